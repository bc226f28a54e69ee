package network

import (
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// ErrExhausted is returned when every address of the pod CIDR is in use.
var ErrExhausted = errors.New("no free address left in the pod CIDR")

// ipam hands out the addresses of a CIDR, one per key, and records each
// allocation as a file named after the address holding its key: an
// allocation survives a restart, and a crash between two steps leaves
// either a complete record or none.
type ipam struct {
	dir     string
	subnet  *net.IPNet
	gateway net.IP
	// first and last bound the assignable host numbers.
	first, last uint64

	mu     sync.Mutex
	byKey  map[string]net.IP
	byAddr map[string]string
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
	p := &ipam{dir: dir, subnet: subnet, gateway: nthIP(subnet, 1), first: 2, last: size - 2,
		byKey: map[string]net.IP{}, byAddr: map[string]string{}}
	p.next = p.first
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating address records: %w", err)
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
		p.byAddr[ip.String()] = key
	}
	return p, nil
}

// nthIP is the n-th address of subnet.
func nthIP(subnet *net.IPNet, n uint64) net.IP {
	base := new(big.Int).SetBytes(subnet.IP.To4())
	v := base.Add(base, new(big.Int).SetUint64(n)).Bytes()
	out := make(net.IP, 4)
	copy(out[4-len(v):], v)
	return out
}

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
	for i := uint64(0); i < span; i++ {
		n := p.first + (p.next-p.first+i)%span
		ip := nthIP(p.subnet, n)
		if _, used := p.byAddr[ip.String()]; used {
			continue
		}
		key, ok, err := take(ip)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		p.byKey[key], p.byAddr[ip.String()] = ip, key
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
	delete(p.byKey, key)
	delete(p.byAddr, ip.String())
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
// address is free. Any other key's record is written in place; a crash
// mid-write leaves it empty, which frees the address at the next start,
// or naming a key no pod has, which the agent frees as a finished pod's.
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
	if isParkedKey(to) {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("releasing address %s: %w", ip, err)
		}
	} else if err := os.WriteFile(path, []byte(to+"\n"), 0o640); err != nil {
		return fmt.Errorf("recording address %s: %w", ip, err)
	}
	delete(p.byKey, from)
	p.byKey[to], p.byAddr[ip.String()] = ip, to
	return nil
}
