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
	"sync/atomic"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Manager is a node's pod network.
type Manager struct {
	stateDir, nsDir string
	subnet          *net.IPNet
	bridge          netlink.Link
	// host is a netlink handle bound to the host namespace, usable from
	// any thread; hostNS is that namespace.
	host   *netlink.Handle
	hostNS netns.NsHandle
	// hostConn is a bare netlink socket in the host namespace for the
	// requests made for every pod, one at a time under hostMu.
	hostConn *nlConn
	hostMu   sync.Mutex
	ipam     *ipam
	pool     *pool
	// keys serialises set-up and teardown per key.
	keys keyLocks
	// built and reused count namespaces made and handed on, for the log.
	built, reused atomic.Int64
	// warming is set while namespaces are built ahead.
	warming atomic.Bool
	// parkedMounts holds the addresses of pods whose namespace is
	// mounted at its parked path as well (see unpark), by ipNum.
	parkedMounts   map[uint32]bool
	parkedMountsMu sync.Mutex

	// mu keeps Close from pulling the handles from under a pod's set-up.
	mu     sync.RWMutex
	closed bool
}

// errClosed is returned after Close.
var errClosed = errors.New("pod network closed")

// Pod is one pod's network.
type Pod struct {
	Key string
	IP  net.IP
	// NetNS is the bind-mounted namespace file containers join.
	NetNS string
	// HostVeth is the host end of the pod's veth pair.
	HostVeth string
}

// New sets the node's bridge up. It fails (and the node should use the
// host network) without the privileges, or with ErrInUse when the
// configured bridge or CIDR belongs to another node on this host.
func New(cfg Config) (*Manager, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("pod network namespaces require running as root")
	}
	owner, err := cfg.owner()
	if err != nil {
		return nil, err
	}
	m := &Manager{stateDir: cfg.StateDir, nsDir: NamespaceDir(cfg.StateDir), pool: newPool(cfg),
		parkedMounts: map[uint32]bool{}}
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return nil, fmt.Errorf("creating pod network state dir: %w", err)
	}
	if err := makeNamespaceDir(m.nsDir, owner); err != nil {
		return nil, err
	}
	if m.hostNS, err = netns.Get(); err != nil {
		return nil, fmt.Errorf("opening the host network namespace: %w", err)
	}
	if m.host, err = netlink.NewHandleAt(m.hostNS); err != nil {
		m.hostNS.Close()
		return nil, fmt.Errorf("netlink: %w", err)
	}
	if m.hostConn, err = openNLAt(m.hostNS, unix.NETLINK_ROUTE); err != nil {
		m.closeHandles()
		return nil, err
	}
	if err := withFreshHandle(m.hostHandle, sweepStale); err != nil {
		slog.Warn("removing stale pod networks", "err", err)
	}
	if err := m.claim(cfg, owner); err != nil {
		m.closeHandles()
		return nil, err
	}
	if err := enableForwarding(); err != nil {
		m.closeHandles()
		return nil, err
	}
	if err := sweepStaleMasquerade(m.host, int(m.hostNS)); err != nil {
		slog.Warn("removing stale masquerade tables", "err", err)
	}
	if err := m.syncMasquerade(nil); err != nil {
		// Pods still reach each other and the host; only hosts that do
		// not route the pod CIDR back stay out of reach.
		slog.Warn("pods cannot reach beyond this host", "err", err)
	}
	if err := migrateRecords(filepath.Join(cfg.StateDir, legacyAddressDir), addressDir(cfg.StateDir)); err != nil {
		m.closeHandles()
		return nil, err
	}
	if m.ipam, err = newIPAM(addressDir(cfg.StateDir), m.subnet); err != nil {
		m.closeHandles()
		return nil, err
	}
	if err := m.destroyLeftovers(); err != nil {
		slog.Warn("removing pod networks parked by an earlier run", "err", err)
	}
	go m.prewarm()
	return m, nil
}

// claim settles on the CIDR and bridge: the configured ones, else those
// of an earlier start, else the first free /24 of AutoCIDRRange.
func (m *Manager) claim(cfg Config, owner string) error {
	var tries []choice
	if cfg.CIDR != "" {
		subnet, err := parseCIDR(cfg.CIDR)
		if err != nil {
			return err
		}
		bridge := cfg.Bridge
		if bridge == "" {
			bridge = bridgeFor(subnet)
		}
		tries = append(tries, choice{CIDR: subnet.String(), Bridge: bridge})
	} else {
		if prev, ok := loadChoice(cfg.StateDir); ok {
			if subnet, err := parseCIDR(prev.CIDR); err == nil && !cfg.taken(subnet) {
				tries = append(tries, prev)
			}
		}
		for slot := 0; slot < maxAutoSlots; slot++ {
			subnet := autoCIDR(slot)
			if cfg.taken(subnet) {
				continue
			}
			bridge := cfg.Bridge
			if bridge == "" {
				bridge = bridgeFor(subnet)
			}
			tries = append(tries, choice{CIDR: subnet.String(), Bridge: bridge})
		}
	}
	var firstErr error
	for _, c := range tries {
		subnet, err := parseCIDR(c.CIDR)
		if err != nil {
			continue
		}
		var br netlink.Link
		err = withFreshHandle(m.hostHandle, func(h *netlink.Handle) error {
			var err error
			br, err = claimBridge(h, c.Bridge, owner, subnet, nthIP(subnet, 1))
			return err
		})
		if err == nil {
			m.subnet, m.bridge = subnet, br
			return saveChoice(cfg.StateDir, c)
		}
		if firstErr == nil {
			firstErr = err
		}
		if !errors.Is(err, ErrInUse) {
			return err
		}
	}
	return firstErr
}

// hostHandle opens a netlink handle in the host namespace for dumps,
// which m.host never runs (see withFreshHandle).
func (m *Manager) hostHandle() (*netlink.Handle, error) { return netlink.NewHandleAt(m.hostNS) }

// CIDR is the node's pod CIDR.
func (m *Manager) CIDR() *net.IPNet { return m.subnet }

// Gateway is the bridge's address, the pods' default route.
func (m *Manager) Gateway() net.IP { return nthIP(m.subnet, 1) }

// Bridge is the bridge's name.
func (m *Manager) Bridge() string { return m.bridge.Attrs().Name }

// Lookup returns the network of key when it has an address.
func (m *Manager) Lookup(key string) (*Pod, bool) {
	ip, ok := m.ipam.lookup(key)
	if !ok {
		return nil, false
	}
	return m.pod(key, ip), true
}

// Keys lists the pods holding an address.
func (m *Manager) Keys() []string { return m.ipam.keys() }

func (m *Manager) pod(key string, ip net.IP) *Pod {
	return &Pod{Key: key, IP: ip, NetNS: filepath.Join(m.nsDir, key), HostVeth: vethName(m.Bridge(), ip)}
}

// Setup gives key a network namespace wired to the bridge, or returns the
// one it has: after an agent restart a running pod keeps its namespace
// and address, and a namespace found broken is rebuilt with the same
// address. A new key gets a parked namespace, with its address, when
// there is one, else a new one. Keys may not start with a dot.
func (m *Manager) Setup(key string) (*Pod, error) {
	if strings.HasPrefix(key, ".") {
		return nil, fmt.Errorf("invalid pod network key %q", key)
	}
	defer m.keys.lock(key)()
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, errClosed
	}
	// Whatever this pod takes, the namespaces kept warm are made up for
	// in the background.
	defer func() { go m.prewarm() }()
	ip, ok := m.ipam.lookup(key)
	if !ok {
		if p, ok := m.unpark(key); ok {
			m.reused.Add(1)
			return p, nil
		}
		var err error
		if ip, err = m.ipam.allocate(key); err != nil {
			return nil, err
		}
	}
	p := m.pod(key, ip)
	if ok && nsMounted(p.NetNS) {
		if _, err := m.hostLink(p.HostVeth); err == nil {
			return p, nil
		}
	}
	if err := m.removeNamespace(p); err != nil {
		return nil, err
	}
	if err := m.build(p); err != nil {
		return nil, errors.Join(err, m.removeNamespace(p))
	}
	m.built.Add(1)
	return p, nil
}

// Teardown removes key's veth pair and namespace and frees its address.
func (m *Manager) Teardown(key string) error {
	return m.teardown(key, destroy)
}

// Park is Teardown for a pod whose namespace may serve another pod: it is
// kept for the next Setup when the pool has room and the namespace is as
// Setup left it. The caller vouches that no process is left in it.
func (m *Manager) Park(key string) error {
	return m.teardown(key, parkChecked)
}

// ParkUnchanged is Park for a pod none of whose processes could have
// changed its namespace: none held CAP_NET_ADMIN or CAP_SYS_ADMIN, which
// every change the check looks for (links, addresses, routes, rules,
// neighbours, qdiscs, filter tables) needs. The inside of the namespace
// is then not inspected, only the host end of its pair.
func (m *Manager) ParkUnchanged(key string) error {
	return m.teardown(key, parkTrusted)
}

// teardownMode says what becomes of a pod's namespace.
type teardownMode int

const (
	destroy     teardownMode = iota
	parkChecked              // parked if the pristine check passes
	parkTrusted              // parked if its host end is in place
)

func (m *Manager) teardown(key string, mode teardownMode) error {
	defer m.keys.lock(key)()
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return errClosed
	}
	ip, ok := m.ipam.lookup(key)
	if !ok || isParkedKey(key) {
		return nil
	}
	p := m.pod(key, ip)
	if mode != destroy && m.park(p, mode == parkTrusted) {
		return nil
	}
	if err := m.removeNamespace(p); err != nil {
		return err
	}
	return m.ipam.release(key)
}

// Parked is the number of namespaces waiting for a pod.
func (m *Manager) Parked() int { return m.pool.count() }

// ParkRoom is how many more namespaces Park may keep for reuse; pods
// released beyond it have theirs destroyed.
func (m *Manager) ParkRoom() int { return m.pool.room() }

// removeNamespace unmounts the namespace, at its parked path too when a
// pod took it from the pool. With its last reference gone the kernel
// destroys it and its end of the veth pair, which takes the host end
// along: deleting the veth here instead costs ~30 ms of kernel time per
// pod under the routing lock, where the kernel's own namespace clean-up
// batches many pods' devices together.
func (m *Manager) removeNamespace(p *Pod) error {
	if err := unmountNamespace(p.NetNS); err != nil {
		return err
	}
	if !m.sharesParkedMount(p.IP) {
		return nil
	}
	if err := unmountNamespace(m.parkedPath(p.IP)); err != nil {
		return err
	}
	m.forgetParkedMount(p.IP)
	return nil
}

// Close releases the manager; the bridge goes too when no pod holds an
// address, so a node that stopped with nothing running leaves nothing.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	slog.Debug("pod network namespaces", "bridge", m.Bridge(), "built", m.built.Load(), "reused", m.reused.Load())
	var err error
	for _, ip := range m.pool.drain() {
		err = errors.Join(err, m.destroyParked(ip))
	}
	if len(m.ipam.keys()) == 0 {
		if derr := m.host.LinkDel(m.bridge); derr != nil && !isNotFound(derr) {
			err = errors.Join(err, fmt.Errorf("removing bridge %s: %w", m.Bridge(), derr))
		}
		if nerr := m.removeMasquerade(); nerr != nil {
			err = errors.Join(err, nerr)
		}
		err = errors.Join(err, removeNamespaceDir(m.nsDir))
	}
	m.closeHandles()
	return err
}

func (m *Manager) closeHandles() {
	if m.host != nil {
		m.host.Close()
	}
	if m.hostConn != nil {
		m.hostConn.Close()
	}
	if m.hostNS.IsOpen() {
		m.hostNS.Close()
	}
}
