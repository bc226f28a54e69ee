//go:build linux

package network

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// checkPristine returns why p's namespace is not as build left it, or nil
// when it is. Pods run as root and may reconfigure their namespace; one
// that did is destroyed rather than handed to another pod. Checked are
// what a pod's traffic depends on: links, addresses, routes, rules,
// static neighbours, queueing disciplines and packet filter tables, and
// the host end of the pair. Sysctls are not: the agent does not reuse
// the namespace of a pod that sets them.
func (m *Manager) checkPristine(p *Pod) error {
	if !nsMounted(p.NetNS) {
		return errors.New("namespace not mounted")
	}
	host, err := m.host.LinkByName(p.HostVeth)
	if err != nil {
		return fmt.Errorf("host end %s: %w", p.HostVeth, err)
	}
	ha := host.Attrs()
	if ha.MasterIndex != m.bridge.Attrs().Index || ha.Flags&net.FlagUp == 0 {
		return fmt.Errorf("host end %s detached from %s or down", p.HostVeth, m.Bridge())
	}
	return inNamespaceAt(p.NetNS, func() error { return m.checkInside(p, ha.MTU) })
}

// checkInside runs on a thread inside p's namespace.
func (m *Manager) checkInside(p *Pod, mtu int) error {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink in the pod namespace: %w", err)
	}
	defer h.Close()
	eth, err := checkLinks(h, mtu)
	if err != nil {
		return err
	}
	checks := []func() error{
		func() error { return m.checkAddrs(h, p, eth) },
		func() error { return m.checkRoutes(h, p, eth) },
		func() error { return checkRules(h) },
		func() error { return checkNeighbours(h) },
		func() error { return checkQdiscs(h) },
		checkFilterTables,
	}
	for _, c := range checks {
		if err := c(); err != nil {
			return err
		}
	}
	return nil
}

// checkLinks wants exactly an up loopback and an up veth eth0 with the
// host end's MTU, and returns eth0's index.
func checkLinks(h *netlink.Handle, mtu int) (int, error) {
	links, err := h.LinkList()
	if err != nil {
		return 0, fmt.Errorf("listing links: %w", err)
	}
	if len(links) != 2 {
		return 0, fmt.Errorf("%d links, want lo and %s", len(links), podInterface)
	}
	eth := 0
	for _, l := range links {
		a := l.Attrs()
		if a.Flags&net.FlagUp == 0 {
			return 0, fmt.Errorf("link %s is down", a.Name)
		}
		switch {
		case a.Name == "lo" && a.Flags&net.FlagLoopback != 0:
		case a.Name == podInterface && l.Type() == "veth" && a.MTU == mtu && a.MasterIndex == 0:
			eth = a.Index
		default:
			return 0, fmt.Errorf("unexpected link %s (%s)", a.Name, l.Type())
		}
	}
	if eth == 0 {
		return 0, fmt.Errorf("no %s", podInterface)
	}
	return eth, nil
}

// checkAddrs wants 127.0.0.1/8 and the pod's address only, and no IPv6
// address beyond loopback and link-local ones. One dump covers both
// families.
func (m *Manager) checkAddrs(h *netlink.Handle, p *Pod, eth int) error {
	addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("listing addresses: %w", err)
	}
	own := &net.IPNet{IP: p.IP, Mask: m.subnet.Mask}
	var sawLo, sawOwn bool
	for _, a := range addrs {
		switch len(a.IP) {
		case net.IPv4len:
			switch {
			case a.LinkIndex == eth && a.IPNet.String() == own.String() && !sawOwn:
				sawOwn = true
			case a.LinkIndex != eth && a.IPNet.String() == "127.0.0.1/8" && !sawLo:
				sawLo = true
			default:
				return fmt.Errorf("unexpected address %s", a.IPNet)
			}
		case net.IPv6len:
			if !a.IP.IsLoopback() && !a.IP.IsLinkLocalUnicast() {
				return fmt.Errorf("unexpected address %s", a.IPNet)
			}
		default:
			return fmt.Errorf("unexpected address %s", a.IPNet)
		}
	}
	if !sawOwn {
		return fmt.Errorf("%s lost its address %s", podInterface, own)
	}
	return nil
}

// checkRoutes wants, over all tables, the default route via the gateway
// and the CIDR's route in main, and in local only the routes the kernel
// derives from the addresses.
func (m *Manager) checkRoutes(h *netlink.Handle, p *Pod, eth int) error {
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("listing routes: %w", err)
	}
	loopback := &net.IPNet{IP: net.IPv4(127, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)}
	bcast := nthIP(m.subnet, hostCount(m.subnet)-1)
	var sawDefault, sawSubnet bool
	for _, r := range routes {
		ok := false
		switch r.Table {
		case unix.RT_TABLE_MAIN:
			switch {
			case isDefault(r.Dst) && r.Gw.Equal(m.Gateway()) && r.LinkIndex == eth && !sawDefault:
				sawDefault, ok = true, true
			case r.Dst != nil && r.Dst.String() == m.subnet.String() && r.Gw == nil && r.LinkIndex == eth && !sawSubnet:
				sawSubnet, ok = true, true
			}
		case unix.RT_TABLE_LOCAL:
			if r.Dst != nil && r.Gw == nil && r.MultiPath == nil && (r.Type == unix.RTN_LOCAL || r.Type == unix.RTN_BROADCAST) {
				ip := r.Dst.IP
				ok = loopback.Contains(ip) || (r.LinkIndex == eth && (ip.Equal(p.IP) || ip.Equal(bcast) || ip.Equal(m.subnet.IP)))
			}
		}
		if !ok {
			return fmt.Errorf("unexpected route %s", r)
		}
	}
	if !sawDefault {
		return errors.New("no default route via the gateway")
	}
	return nil
}

func isDefault(dst *net.IPNet) bool {
	if dst == nil {
		return true
	}
	ones, _ := dst.Mask.Size()
	return ones == 0 && dst.IP.IsUnspecified()
}

// hostCount is the number of addresses in subnet.
func hostCount(subnet *net.IPNet) uint64 {
	ones, bits := subnet.Mask.Size()
	return uint64(1) << uint(bits-ones)
}

// checkRules wants the three rules every namespace starts with.
func checkRules(h *netlink.Handle) error {
	rules, err := h.RuleList(netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing rules: %w", err)
	}
	if len(rules) != 3 {
		return fmt.Errorf("%d routing rules, want the 3 defaults", len(rules))
	}
	for _, r := range rules {
		if r.Table != unix.RT_TABLE_LOCAL && r.Table != unix.RT_TABLE_MAIN && r.Table != unix.RT_TABLE_DEFAULT {
			return fmt.Errorf("unexpected rule to table %d", r.Table)
		}
	}
	return nil
}

// checkNeighbours refuses static neighbour entries, which would outlive
// the pod that made them.
// One dump covers both families.
func checkNeighbours(h *netlink.Handle) error {
	neighs, err := h.NeighList(0, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("listing neighbours: %w", err)
	}
	for _, n := range neighs {
		// Multicast entries are the kernel's own (NOARP).
		if n.State&netlink.NUD_PERMANENT != 0 && !n.IP.IsMulticast() {
			return fmt.Errorf("static neighbour %s", n.IP)
		}
	}
	return nil
}

// checkQdiscs wants the default noqueue everywhere: no shaping, no
// filters.
func checkQdiscs(h *netlink.Handle) error {
	qdiscs, err := h.QdiscList(nil)
	if err != nil {
		return fmt.Errorf("listing queueing disciplines: %w", err)
	}
	for _, q := range qdiscs {
		if q.Type() != "noqueue" {
			return fmt.Errorf("queueing discipline %s", q.Type())
		}
	}
	return nil
}

// checkFilterTables wants no nftables table and no legacy iptables table
// in the calling thread's namespace. Both are read with bare system
// calls: a netlink client library, or the os package's files (which
// register procfs files with the poller), cost several times more.
func checkFilterTables() error {
	n, err := countNftTables()
	switch {
	case errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ENOENT):
		// No nf_tables in this kernel: no table either.
	case err != nil:
		return fmt.Errorf("listing nftables tables: %w", err)
	case n > 0:
		return fmt.Errorf("%d nftables tables", n)
	}
	var buf [256]byte
	for _, f := range []string{"ip_tables_names", "ip6_tables_names", "arp_tables_names"} {
		data, err := readSmallFile("/proc/thread-self/net/"+f, buf[:])
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("reading %s: %w", f, err)
		}
		if s := strings.TrimSpace(string(data)); s != "" {
			return fmt.Errorf("iptables tables %s", strings.Fields(s))
		}
	}
	return nil
}

// readSmallFile reads the start of path into buf, which is all of a
// file that fits. A table name list that does not fit still reads as
// not empty, which is all that is asked of it.
func readSmallFile(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	n := 0
	for n < len(buf) {
		r, err := unix.Read(fd, buf[n:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if r == 0 {
			break
		}
		n += r
	}
	return buf[:n], nil
}

// dumpBufs hold a netlink dump's messages: the kernel fills up to 32 KiB
// per read for a reader that offers as much.
var dumpBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// countNftTables dumps the nftables tables of the calling thread's
// namespace over a netlink socket of its own and counts them.
func countNftTables() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	const getTable = unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETTABLE
	const newTable = unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWTABLE
	req := nl.NewNetlinkRequest(getTable, unix.NLM_F_DUMP)
	req.AddData(&nl.Nfgenmsg{NfgenFamily: unix.AF_UNSPEC, Version: nl.NFNETLINK_V0})
	if err := unix.Sendto(fd, req.Serialize(), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, err
	}
	bp := dumpBufs.Get().(*[]byte)
	defer dumpBufs.Put(bp)
	buf := *bp
	count := 0
	for {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return 0, err
		}
		for _, msg := range msgs {
			if msg.Header.Seq != req.Seq {
				continue
			}
			if msg.Header.Flags&unix.NLM_F_DUMP_INTR != 0 {
				return 0, unix.EINTR
			}
			switch msg.Header.Type {
			case unix.NLMSG_DONE, unix.NLMSG_ERROR:
				// Both may carry an error number; a bare done ends
				// the dump.
				if len(msg.Data) >= 4 {
					if errno := int32(nl.NativeEndian().Uint32(msg.Data[:4])); errno != 0 {
						return 0, syscall.Errno(-errno)
					}
				}
				return count, nil
			case newTable:
				count++
			}
		}
	}
}

// inNamespaceAt runs fn on a thread inside the namespace mounted at path.
// The thread returns to its namespace after; one that cannot dies with
// its goroutine.
func inNamespaceAt(path string, fn func() error) error {
	target, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	defer target.Close()
	return onLockedThread(func() error {
		if err := netns.Set(target); err != nil {
			return fmt.Errorf("entering %s: %w", path, err)
		}
		return fn()
	})
}
