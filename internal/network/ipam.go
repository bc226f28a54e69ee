package network

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrExhausted is returned when every address of the pod CIDR is in use.
var ErrExhausted = errors.New("no free address left in the pod CIDR")

// ipam hands out the addresses of a CIDR, one per key, and records each
// allocation as a file named after the address holding its key: an
// allocation survives a restart, and a crash between two steps leaves
// either a complete record or none.
type ipam struct {
	dir string
	// parkedDir keeps the record files of parked addresses out of dir,
	// so that a restart finds no record for them, for their next pod:
	// renaming a file back costs a fraction of creating one.
	parkedDir string
	subnet    *net.IPNet
	gateway   net.IP
	// first and last bound the assignable host numbers.
	first, last uint64

	mu    sync.Mutex
	byKey map[string]net.IP
	// byAddr is keyed by the address as a number.
	byAddr map[uint32]string
	next   uint64
}

// newIPAM loads the allocations recorded in dir for subnet. The first
// address after the network's is the gateway's and never handed out, nor
// is the broadcast address.
func newIPAM(dir string, subnet *net.IPNet) (*ipam, error) {
	ones, bits := subnet.Mask.Size()
	if subnet.IP.To4() == nil || bits != 32 {
		return nil, fmt.Errorf("pod CIDR %s: only IPv4 is supported", subnet)
	}
	if ones > 29 {
		return nil, fmt.Errorf("pod CIDR %s: too small, need at least a /29", subnet)
	}
	size := uint64(1) << uint(bits-ones)
	p := &ipam{dir: dir, parkedDir: dir + "-parked", subnet: subnet, gateway: nthIP(subnet, 1),
		first: 2, last: size - 2, byKey: map[string]net.IP{}, byAddr: map[uint32]string{}}
	p.next = p.first
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating address records: %w", err)
	}
	// Nothing is parked at a start: the records kept for parked
	// addresses are stale.
	if err := os.RemoveAll(p.parkedDir); err != nil {
		return nil, fmt.Errorf("clearing parked address records: %w", err)
	}
	if err := os.Mkdir(p.parkedDir, 0o750); err != nil {
		return nil, fmt.Errorf("creating parked address records: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading address records: %w", err)
	}
	for _, e := range entries {
		ip := net.ParseIP(e.Name())
		if ip == nil || !subnet.Contains(ip) {
			// A temporary file or another CIDR's record: not ours to keep.
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading address record: %w", err)
		}
		key := strings.TrimSpace(string(data))
		if key == "" {
			_ = os.Remove(filepath.Join(dir, e.Name()))
			continue
		}
		p.byKey[key] = ip.To4()
		p.byAddr[ipNum(ip)] = key
	}
	return p, nil
}

// migrateRecords moves the address records an earlier agent kept in from
// to dir, where newIPAM reads them; a parked address's record, kept
// aside, is dropped, as a start drops it. from is removed only once all
// are written, so a crash in between leaves it for the next start to
// move again, over what this one wrote.
func migrateRecords(from, dir string) error {
	entries, err := os.ReadDir(from)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading address records of an earlier agent: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("creating address records: %w", err)
	}
	for _, e := range entries {
		if net.ParseIP(e.Name()) == nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return fmt.Errorf("reading address record of an earlier agent: %w", err)
		}
		err = os.WriteFile(filepath.Join(dir, e.Name()), data, 0o640)
		if err != nil {
			return fmt.Errorf("moving address record %s: %w", e.Name(), err)
		}
	}
	if err := errors.Join(os.RemoveAll(from), os.RemoveAll(from+"-parked")); err != nil {
		return fmt.Errorf("removing address records of an earlier agent: %w", err)
	}
	return nil
}

// nthIP is the n-th address of the IPv4 subnet.
func nthIP(subnet *net.IPNet, n uint64) net.IP {
	out := make(net.IP, 4)
	binary.BigEndian.PutUint32(out, ipNum(subnet.IP)+uint32(n))
	return out
}

// ipNum is an IPv4 address as a number.
func ipNum(ip net.IP) uint32 { return binary.BigEndian.Uint32(ip.To4()) }

// allocate returns key's address, assigning the next free one when key
// has none.
func (p *ipam) allocate(key string) (net.IP, error) {
	if key == "" || strings.ContainsAny(key, "\n/") {
		return nil, fmt.Errorf("invalid allocation key %q", key)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ip, ok := p.byKey[key]; ok {
		return ip, nil
	}
	return p.takeNext(func(ip net.IP) (string, bool, error) {
		if err := p.record(ip, key); err != nil {
			if errors.Is(err, os.ErrExist) {
				return "", false, nil
			}
			return "", false, err
		}
		return key, true, nil
	})
}

// takeNext hands out the first free address from the next-fit position
// that take accepts, under the key take names (false: taken after all,
// try the next). The caller holds the lock. Next fit: a released address is not handed out again
// at once, so a peer's stale view of it (a DNS answer) reaches nobody.
func (p *ipam) takeNext(take func(net.IP) (key string, ok bool, err error)) (net.IP, error) {
	span := p.last - p.first + 1
	base := ipNum(p.subnet.IP)
	for i := uint64(0); i < span; i++ {
		n := p.first + (p.next-p.first+i)%span
		if _, used := p.byAddr[base+uint32(n)]; used {
			continue
		}
		ip := nthIP(p.subnet, n)
		key, ok, err := take(ip)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		p.byKey[key], p.byAddr[base+uint32(n)] = ip, key
		p.next = n + 1
		return ip, nil
	}
	return nil, fmt.Errorf("allocating an address in %s: %w", p.subnet, ErrExhausted)
}

// allocateParked takes a free address for a namespace built ahead of any
// pod and holds it under its parked key, without a record: after a
// restart nothing is parked and the address is free.
func (p *ipam) allocateParked() (net.IP, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.takeNext(func(ip net.IP) (string, bool, error) {
		if _, err := os.Stat(filepath.Join(p.dir, ip.String())); err == nil {
			return "", false, nil
		}
		return parkedKey(ip), true, nil
	})
}

// record writes the allocation file; it fails with os.ErrExist when the
// address is taken.
func (p *ipam) record(ip net.IP, key string) error {
	path := filepath.Join(p.dir, ip.String())
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("recording address %s: %w", ip, err)
	}
	_, werr := f.WriteString(key + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path)
		return fmt.Errorf("recording address %s: %w", ip, werr)
	}
	return nil
}

// lookup returns key's address, if it has one.
func (p *ipam) lookup(key string) (net.IP, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ip, ok := p.byKey[key]
	return ip, ok
}

// release frees key's address; releasing a key without one is a no-op.
func (p *ipam) release(key string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ip, ok := p.byKey[key]
	if !ok {
		return nil
	}
	if err := os.Remove(filepath.Join(p.dir, ip.String())); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("releasing address %s: %w", ip, err)
	}
	if isParkedKey(key) {
		if err := os.Remove(filepath.Join(p.parkedDir, ip.String())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("releasing address %s: %w", ip, err)
		}
	}
	delete(p.byKey, key)
	delete(p.byAddr, ipNum(ip))
	return nil
}

// keys lists the pods' keys holding an address, leaving out parked ones.
func (p *ipam) keys() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.byKey))
	for k := range p.byKey {
		if !isParkedKey(k) {
			out = append(out, k)
		}
	}
	return out
}

// parkedKeyPrefix starts the key a parked namespace holds its address
// under. A pod's key has no '/', so the two never meet.
const parkedKeyPrefix = "/parked/"

func parkedKey(ip net.IP) string  { return parkedKeyPrefix + ip.String() }
func isParkedKey(key string) bool { return strings.HasPrefix(key, parkedKeyPrefix) }

// rekey hands from's address to to, which must hold none. A parked key's
// address has no record: after a restart nothing is parked, so the
// address is free. Its last record is moved aside, and moved back with
// the new key written over the old when the address goes to a pod; a
// crash before the move back leaves no record, as for any parked
// address. Without a record aside, the new key's record is written in
// place; a crash mid-write leaves it empty, which frees the address at
// the next start, or naming a key no pod has, which the agent frees as
// a finished pod's.
func (p *ipam) rekey(from, to string) error {
	if to == "" || strings.Contains(to, "\n") {
		return fmt.Errorf("invalid allocation key %q", to)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ip, ok := p.byKey[from]
	if !ok {
		return fmt.Errorf("moving the address of %q: it holds none", from)
	}
	if held, ok := p.byKey[to]; ok {
		return fmt.Errorf("moving the address of %q: %q already holds %s", from, to, held)
	}
	path := filepath.Join(p.dir, ip.String())
	aside := filepath.Join(p.parkedDir, ip.String())
	switch {
	case isParkedKey(to):
		if err := rename(path, aside); err != nil && !errors.Is(err, os.ErrNotExist) {
			if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				return fmt.Errorf("releasing address %s: %w", ip, errors.Join(err, rerr))
			}
		}
	case isParkedKey(from):
		if err := restoreRecord(aside, path, to); err != nil {
			return fmt.Errorf("recording address %s: %w", ip, err)
		}
	default:
		if err := os.WriteFile(path, []byte(to+"\n"), 0o640); err != nil {
			return fmt.Errorf("recording address %s: %w", ip, err)
		}
	}
	delete(p.byKey, from)
	p.byKey[to], p.byAddr[ipNum(ip)] = ip, to
	return nil
}

// restoreRecord writes key over the record moved aside to aside and moves
// it back to path, or writes path afresh without one.
func restoreRecord(aside, path, key string) error {
	err := overwrite(aside, key+"\n")
	if errors.Is(err, os.ErrNotExist) {
		return os.WriteFile(path, []byte(key+"\n"), 0o640)
	}
	if err == nil {
		err = rename(aside, path)
	}
	if err != nil {
		return errors.Join(err, os.Remove(aside))
	}
	return nil
}

// rename is os.Rename without its look at the target first, a system
// call that matters on a path taken for every pod.
func rename(from, to string) error {
	if err := unix.Rename(from, to); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// overwrite replaces the contents of the existing file at path with
// data, without the cost of truncating it first when data is as long.
func overwrite(path, data string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if n, err := unix.Pwrite(fd, []byte(data), 0); err != nil || n != len(data) {
		if err == nil {
			err = io.ErrShortWrite
		}
		return &os.PathError{Op: "write", Path: path, Err: err}
	}
	if st.Size > int64(len(data)) {
		if err := unix.Ftruncate(fd, int64(len(data))); err != nil {
			return &os.PathError{Op: "truncate", Path: path, Err: err}
		}
	}
	return nil
}
