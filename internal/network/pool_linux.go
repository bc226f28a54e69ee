//go:build linux

package network

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// A finished pod's namespace, with its veth pair, address and routes, is
// parked rather than destroyed, and handed to the next pod that needs a
// network: that pod skips building one, and the kernel skips destroying
// one, which it does in the background but on the same CPUs.

// parkedPrefix starts the file name of a parked namespace; a pod's key
// cannot start with it.
const parkedPrefix = ".parked-"

// parkedNS is a namespace waiting for a pod.
type parkedNS struct {
	ip    net.IP
	since time.Time
}

// pool holds the parked namespaces, the last parked on top.
type pool struct {
	clock clock.WithDelayedExecution
	size  int
	idle  time.Duration
	// warm namespaces are kept however long they idle.
	warm int

	mu sync.Mutex
	// parked is ordered by since; reserved counts parkings under way.
	parked   []parkedNS
	reserved int
	timer    clock.Timer
}

func newPool(cfg Config) *pool {
	p := &pool{clock: cfg.Clock, size: cfg.PoolSize, idle: cfg.PoolIdle}
	if p.clock == nil {
		p.clock = clock.RealClock{}
	}
	if p.size == 0 {
		p.size = DefaultPoolSize
	}
	if p.idle <= 0 {
		p.idle = DefaultPoolIdle
	}
	p.warm = min(max(cfg.PoolWarm, 0), max(p.size, 0))
	return p
}

// reserveWarm claims room for a namespace built ahead when the pool,
// counting parkings under way, holds fewer than it keeps warm.
func (p *pool) reserveWarm() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.parked)+p.reserved >= p.warm {
		return false
	}
	p.reserved++
	return true
}

// reserve claims room for one more namespace; release gives it back.
func (p *pool) reserve() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.parked)+p.reserved >= p.size {
		return false
	}
	p.reserved++
	return true
}

func (p *pool) unreserve() {
	p.mu.Lock()
	p.reserved--
	p.mu.Unlock()
}

// add parks the namespace with ip in a reserved slot; expire is run once
// it may have idled long enough.
func (p *pool) add(ip net.IP, expire func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reserved--
	p.parked = append(p.parked, parkedNS{ip: ip, since: p.clock.Now()})
	if p.timer == nil {
		p.arm(p.idle, expire)
	}
}

// arm runs expire after d. The fake clock of tests calls back under its
// own lock, so the work is done on another goroutine.
func (p *pool) arm(d time.Duration, expire func()) {
	p.timer = p.clock.AfterFunc(d, func() { go expire() })
}

// take unparks the most recently parked namespace.
func (p *pool) take() (net.IP, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.parked)
	if n == 0 {
		return nil, false
	}
	ip := p.parked[n-1].ip
	p.parked = p.parked[:n-1]
	return ip, true
}

// expired unparks the namespaces idle for the pool's idle time, all but
// the ones kept warm, and arms the timer for the next one.
func (p *pool) expired(expire func()) []net.IP {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timer = nil
	now := p.clock.Now()
	var out []net.IP
	i := 0
	for ; i < len(p.parked)-p.warm && now.Sub(p.parked[i].since) >= p.idle; i++ {
		out = append(out, p.parked[i].ip)
	}
	p.parked = append(p.parked[:0], p.parked[i:]...)
	if len(p.parked) > p.warm {
		p.arm(p.parked[0].since.Add(p.idle).Sub(now), expire)
	}
	return out
}

// drain unparks every namespace and stops the timer.
func (p *pool) drain() []net.IP {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	out := make([]net.IP, 0, len(p.parked))
	for _, e := range p.parked {
		out = append(out, e.ip)
	}
	p.parked = nil
	return out
}

// count is the number of parked namespaces.
// room is how many more namespaces may be parked.
func (p *pool) room() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(p.size-len(p.parked)-p.reserved, 0)
}

func (p *pool) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}

func (m *Manager) parkedPath(ip net.IP) string {
	return filepath.Join(m.nsDir, parkedPrefix+ip.String())
}

// sparePath is the empty file a parked namespace's last pod left, which
// its next pod's file is made of.
func (m *Manager) sparePath(ip net.IP) string {
	return filepath.Join(m.nsDir, parkedPrefix+ip.String()+".spare")
}

// park keeps p's namespace for another pod when the pool has room and the
// namespace is as build left it (taken on trust inside when trusted), and
// reports whether it did. Otherwise p is left as it was, for the caller
// to destroy.
func (m *Manager) park(p *Pod, trusted bool) bool {
	if !m.pool.reserve() {
		return false
	}
	check := m.checkPristine
	if trusted {
		check = m.checkHostOnly
	}
	if err := check(p); err != nil {
		m.pool.unreserve()
		slog.Debug("pod network not reused", "pod", p.Key, "reason", err)
		return false
	}
	to := m.parkedPath(p.IP)
	var err error
	if m.sharesParkedMount(p.IP) {
		// Mounted at to since it was unparked: the caller's teardown
		// removes both mounts if this fails.
		err = dropMount(p.NetNS, m.sparePath(p.IP))
	} else if err = moveNamespace(p.NetNS, to, m.sparePath(p.IP)); err != nil {
		// Whichever of the two paths still holds the namespace, the
		// caller's teardown and the next start's sweep remove it.
		_ = unmountNamespace(to)
	}
	if err != nil {
		m.pool.unreserve()
		slog.Warn("parking pod network", "pod", p.Key, "err", err)
		return false
	}
	m.forgetParkedMount(p.IP)
	if err := m.ipam.rekey(p.Key, parkedKey(p.IP)); err != nil {
		m.pool.unreserve()
		slog.Warn("parking pod network", "pod", p.Key, "err", err)
		_ = unmountNamespace(to)
		return false
	}
	m.pool.add(p.IP, m.expireParked)
	return true
}

// unpark gives key a parked namespace, if there is one. The namespace
// stays mounted at its parked path too: the pod's start and its next
// parking then take a mount and an unmount between them, not two of each.
func (m *Manager) unpark(key string) (*Pod, bool) {
	for {
		ip, ok := m.pool.take()
		if !ok {
			return nil, false
		}
		p := m.pod(key, ip)
		err := m.ipam.rekey(parkedKey(ip), key)
		if err == nil {
			if err = bindNamespace(m.parkedPath(ip), p.NetNS, m.sparePath(ip)); err == nil {
				m.keepParkedMount(ip)
				return p, true
			}
			err = errors.Join(err, m.ipam.rekey(key, parkedKey(ip)))
		}
		slog.Warn("reusing a pod network", "address", ip, "err", err)
		if derr := m.destroyParked(ip); derr != nil {
			slog.Warn("removing a parked pod network", "address", ip, "err", derr)
		}
	}
}

// keepParkedMount records that ip's namespace, serving a pod, is
// mounted at its parked path as well. The record is not kept across
// restarts: a start unmounts every parked path.
func (m *Manager) keepParkedMount(ip net.IP) {
	m.parkedMountsMu.Lock()
	defer m.parkedMountsMu.Unlock()
	m.parkedMounts[ipNum(ip)] = true
}

// sharesParkedMount reports whether the pod with ip shares its
// namespace's mount with the parked path.
func (m *Manager) sharesParkedMount(ip net.IP) bool {
	m.parkedMountsMu.Lock()
	defer m.parkedMountsMu.Unlock()
	return m.parkedMounts[ipNum(ip)]
}

func (m *Manager) forgetParkedMount(ip net.IP) {
	m.parkedMountsMu.Lock()
	defer m.parkedMountsMu.Unlock()
	delete(m.parkedMounts, ipNum(ip))
}

// prewarm builds namespaces into the pool until it holds the number kept
// warm, so that a pod arriving on an idle node does not wait for one.
// One call at a time builds; the others return at once.
func (m *Manager) prewarm() {
	if !m.warming.CompareAndSwap(false, true) {
		return
	}
	defer m.warming.Store(false)
	for m.pool.reserveWarm() {
		if err := m.buildParked(); err != nil {
			m.pool.unreserve()
			// A full CIDR is no fault: finished pods' addresses are
			// reclaimed when pods need them.
			if !errors.Is(err, errClosed) && !errors.Is(err, ErrExhausted) {
				slog.Warn("building a pod network ahead", "err", err)
			}
			return
		}
	}
}

// buildParked builds a namespace straight into the pool, under an
// address that, like any parked one, has no record on disk.
func (m *Manager) buildParked() error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return errClosed
	}
	ip, err := m.ipam.allocateParked()
	if err != nil {
		return err
	}
	p := &Pod{Key: parkedKey(ip), IP: ip, NetNS: m.parkedPath(ip), HostVeth: vethName(m.Bridge(), ip)}
	if err := m.build(p); err != nil {
		return errors.Join(err, m.destroyParked(ip))
	}
	m.built.Add(1)
	m.pool.add(ip, m.expireParked)
	return nil
}

// destroyParked removes a parked namespace and frees its address.
func (m *Manager) destroyParked(ip net.IP) error {
	var err error
	if rerr := os.Remove(m.sparePath(ip)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = fmt.Errorf("removing %s: %w", m.sparePath(ip), rerr)
	}
	return errors.Join(unmountNamespace(m.parkedPath(ip)), err, m.ipam.release(parkedKey(ip)))
}

// expireParked destroys the namespaces that idled too long.
func (m *Manager) expireParked() {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return
	}
	for _, ip := range m.pool.expired(m.expireParked) {
		if err := m.destroyParked(ip); err != nil {
			slog.Warn("removing an idle pod network", "address", ip, "err", err)
		}
	}
}

// destroyLeftovers removes the namespaces an earlier run parked: no pod
// uses them, their addresses were not recorded, and this run's pool
// starts empty.
func (m *Manager) destroyLeftovers() error {
	entries, err := os.ReadDir(m.nsDir)
	if err != nil {
		return fmt.Errorf("reading %s: %w", m.nsDir, err)
	}
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), parkedPrefix) {
			errs = append(errs, unmountNamespace(filepath.Join(m.nsDir, e.Name())))
		}
	}
	return errors.Join(errs...)
}
