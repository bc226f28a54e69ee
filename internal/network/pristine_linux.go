//go:build linux

package network

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"

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
//
// The dumps go over a bare netlink socket (see nlConn): with the
// library, the check cost several times the kernel's work.
func (m *Manager) checkPristine(p *Pod) error {
	mtu, err := m.checkHostEnd(p.HostVeth)
	if err != nil {
		return err
	}
	// Entering a file that is not a mounted namespace fails.
	return inNamespaceAt(p.NetNS, func() error { return m.checkInside(p, mtu) })
}

// checkHostOnly is the part of checkPristine outside the namespace.
func (m *Manager) checkHostOnly(p *Pod) error {
	_, err := m.checkHostEnd(p.HostVeth)
	return err
}

// checkHostEnd wants the host end up and enslaved to the bridge, and
// returns its MTU.
func (m *Manager) checkHostEnd(name string) (int, error) {
	l, err := m.hostLink(name)
	if err != nil {
		return 0, fmt.Errorf("host end %s: %w", name, err)
	}
	if l.master != m.bridge.Attrs().Index || l.flags&unix.IFF_UP == 0 {
		return 0, fmt.Errorf("host end %s detached from %s or down", name, m.Bridge())
	}
	return l.mtu, nil
}

// hostLink looks the host's link called name up.
func (m *Manager) hostLink(name string) (nlLink, error) {
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	var b nlBatch
	b.begin(m.hostConn, unix.RTM_GETLINK, 0, ifinfomsg(0, 0, 0))
	b.str(unix.IFLA_IFNAME, name)
	b.u32(unix.IFLA_EXT_MASK, rtextFilterSkipStats)
	var l nlLink
	found := false
	err := m.hostConn.do(&b, func(typ uint16, body []byte) error {
		if typ != unix.RTM_NEWLINK {
			return nil
		}
		var err error
		l, err = parseLink(body)
		found = err == nil
		return err
	})
	if err == nil && !found {
		err = unix.ENODEV
	}
	return l, err
}

// nlLink is what the checks read of a link.
type nlLink struct {
	index, mtu, master int
	flags              uint32
	name, kind         string
	// xdp is set when an XDP program is attached.
	xdp bool
}

func parseLink(body []byte) (nlLink, error) {
	var l nlLink
	if len(body) < unix.SizeofIfInfomsg {
		return l, errors.New("short link message")
	}
	l.index = int(int32(binary.NativeEndian.Uint32(body[4:])))
	l.flags = binary.NativeEndian.Uint32(body[8:])
	a := nlAttrs{b: body[unix.SizeofIfInfomsg:]}
	for a.next() {
		switch a.typ {
		case unix.IFLA_IFNAME:
			l.name = a.str()
		case unix.IFLA_MTU:
			l.mtu = int(a.u32())
		case unix.IFLA_MASTER:
			l.master = int(a.u32())
		case unix.IFLA_LINKINFO:
			info := nlAttrs{b: a.val}
			for info.next() {
				if info.typ == unix.IFLA_INFO_KIND {
					l.kind = info.str()
				}
			}
		case unix.IFLA_XDP:
			x := nlAttrs{b: a.val}
			for x.next() {
				if x.typ == unix.IFLA_XDP_ATTACHED && len(x.val) > 0 && x.val[0] != xdpAttachedNone {
					l.xdp = true
				}
			}
		}
	}
	if a.bad {
		return l, errors.New("malformed link message")
	}
	return l, nil
}

// checkInside runs on a thread inside p's namespace.
func (m *Manager) checkInside(p *Pod, mtu int) error {
	c, err := openNL(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink in the pod namespace: %w", err)
	}
	defer c.Close()
	eth, err := checkLinks(c, mtu)
	if err != nil {
		return err
	}
	if err := m.checkAddrs(c, p, eth); err != nil {
		return err
	}
	if err := m.checkRoutes(c, p, eth); err != nil {
		return err
	}
	if err := checkRules(c); err != nil {
		return err
	}
	if err := checkNeighbours(c); err != nil {
		return err
	}
	if err := checkQdiscs(c); err != nil {
		return err
	}
	return checkFilterTables()
}

// dumpAll dumps the table of request type typ, whose fixed header is
// fixed, and gives fn each message of type want.
func (c *nlConn) dumpAll(typ uint16, fixed []byte, want uint16, fn func(body []byte) error) error {
	var b nlBatch
	b.begin(c, typ, unix.NLM_F_DUMP, fixed)
	if typ == unix.RTM_GETLINK {
		b.u32(unix.IFLA_EXT_MASK, rtextFilterSkipStats)
	}
	return c.dump(&b, func(t uint16, body []byte) error {
		if t != want {
			return nil
		}
		return fn(body)
	})
}

// checkLinks wants exactly an up loopback and an up veth eth0 with the
// host end's MTU and no XDP program, and returns eth0's index.
func checkLinks(c *nlConn, mtu int) (int, error) {
	var links []nlLink
	err := c.dumpAll(unix.RTM_GETLINK, ifinfomsg(0, 0, 0), unix.RTM_NEWLINK, func(body []byte) error {
		l, err := parseLink(body)
		links = append(links, l)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("listing links: %w", err)
	}
	if len(links) != 2 {
		return 0, fmt.Errorf("%d links, want lo and %s", len(links), podInterface)
	}
	eth := 0
	for _, l := range links {
		if l.flags&unix.IFF_UP == 0 {
			return 0, fmt.Errorf("link %s is down", l.name)
		}
		switch {
		case l.xdp:
			return 0, fmt.Errorf("link %s runs an XDP program", l.name)
		case l.name == "lo" && l.flags&unix.IFF_LOOPBACK != 0:
		case l.name == podInterface && l.kind == "veth" && l.mtu == mtu && l.master == 0:
			eth = l.index
		default:
			return 0, fmt.Errorf("unexpected link %s (%s, mtu %d, master %d)", l.name, l.kind, l.mtu, l.master)
		}
	}
	if eth == 0 {
		return 0, fmt.Errorf("no %s", podInterface)
	}
	return eth, nil
}

// checkAddrs wants 127.0.0.1/8 and the pod's address, neither with a
// peer, and no other IPv4 address, nor an IPv6 one beyond loopback and
// link-local ones. One dump covers both families.
func (m *Manager) checkAddrs(c *nlConn, p *Pod, eth int) error {
	ones, _ := m.subnet.Mask.Size()
	own := p.IP.To4()
	var sawLo, sawOwn bool
	err := c.dumpAll(unix.RTM_GETADDR, make([]byte, unix.SizeofIfAddrmsg), unix.RTM_NEWADDR, func(body []byte) error {
		if len(body) < unix.SizeofIfAddrmsg {
			return errors.New("short address message")
		}
		family, prefix := body[0], int(body[1])
		index := int(binary.NativeEndian.Uint32(body[4:]))
		var local, address net.IP
		a := nlAttrs{b: body[unix.SizeofIfAddrmsg:]}
		for a.next() {
			switch a.typ {
			case unix.IFA_LOCAL:
				local = net.IP(a.val)
			case unix.IFA_ADDRESS:
				address = net.IP(a.val)
			}
		}
		ip := local
		if ip == nil {
			ip = address
		}
		ok := false
		switch {
		case a.bad:
			return errors.New("malformed address message")
		case local != nil && address != nil && !local.Equal(address):
			return fmt.Errorf("unexpected address %s/%d peer %s", ip, prefix, address)
		case family == unix.AF_INET && len(ip) == net.IPv4len:
			switch {
			case index == eth && prefix == ones && ip.Equal(own) && !sawOwn:
				sawOwn, ok = true, true
			case index != eth && prefix == 8 && ip.Equal(loopbackIP) && !sawLo:
				sawLo, ok = true, true
			}
		case family == unix.AF_INET6 && len(ip) == net.IPv6len:
			ok = ip.IsLoopback() || ip.IsLinkLocalUnicast()
		}
		if !ok {
			return fmt.Errorf("unexpected address %s/%d (family %d)", ip, prefix, family)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("checking addresses: %w", err)
	}
	switch {
	case !sawOwn:
		return fmt.Errorf("%s lost its address %s/%d", podInterface, own, ones)
	case !sawLo:
		return errors.New("lo lost its address 127.0.0.1/8")
	}
	return nil
}

var (
	loopbackIP  = net.IPv4(127, 0, 0, 1)
	loopbackNet = &net.IPNet{IP: net.IPv4(127, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)}
)

// checkRoutes wants, over all tables, the default route via the gateway
// and the CIDR's route in main, and in local only the routes the kernel
// derives from the addresses. Routes whose traffic goes elsewhere than
// their gateway and link say (multipath, nexthop objects, another
// family's gateway, encapsulation) or that carry metrics are refused.
func (m *Manager) checkRoutes(c *nlConn, p *Pod, eth int) error {
	ones, _ := m.subnet.Mask.Size()
	bcast := nthIP(m.subnet, hostCount(m.subnet)-1)
	gateway := m.Gateway()
	var sawDefault, sawSubnet bool
	fixed := make([]byte, unix.SizeofRtMsg)
	fixed[0] = unix.AF_INET
	err := c.dumpAll(unix.RTM_GETROUTE, fixed, unix.RTM_NEWROUTE, func(body []byte) error {
		if len(body) < unix.SizeofRtMsg {
			return errors.New("short route message")
		}
		family, dstLen, table, typ := body[0], int(body[1]), uint32(body[4]), body[7]
		if family != unix.AF_INET || binary.NativeEndian.Uint32(body[8:])&unix.RTM_F_CLONED != 0 {
			return nil
		}
		var dst, gw net.IP
		oif := 0
		odd := ""
		a := nlAttrs{b: body[unix.SizeofRtMsg:]}
		for a.next() {
			switch a.typ {
			case unix.RTA_TABLE:
				table = a.u32()
			case unix.RTA_DST:
				dst = net.IP(a.val)
			case unix.RTA_GATEWAY:
				gw = net.IP(a.val)
			case unix.RTA_OIF:
				oif = int(a.u32())
			case unix.RTA_MULTIPATH:
				odd = "multipath"
			case unix.RTA_VIA:
				odd = "via"
			case rtaNHID:
				odd = "nexthop object"
			case unix.RTA_ENCAP:
				odd = "encapsulation"
			case unix.RTA_METRICS:
				odd = "metrics"
			}
		}
		if a.bad {
			return errors.New("malformed route message")
		}
		ok := odd == ""
		switch {
		case !ok:
		case table == unix.RT_TABLE_MAIN:
			switch {
			case typ != unix.RTN_UNICAST || oif != eth:
				ok = false
			case dstLen == 0 && (dst == nil || dst.IsUnspecified()) && gw.Equal(gateway) && !sawDefault:
				sawDefault = true
			case dstLen == ones && dst.Equal(m.subnet.IP) && gw == nil && !sawSubnet:
				sawSubnet = true
			default:
				ok = false
			}
		case table == unix.RT_TABLE_LOCAL:
			ok = dst != nil && gw == nil && (typ == unix.RTN_LOCAL || typ == unix.RTN_BROADCAST) &&
				(loopbackNet.Contains(dst) ||
					(oif == eth && dstLen == 32 && (dst.Equal(p.IP) || dst.Equal(bcast) || dst.Equal(m.subnet.IP))))
		default:
			ok = false
		}
		if !ok {
			return fmt.Errorf("unexpected route %s/%d via %s dev %d table %d type %d %s", dst, dstLen, gw, oif, table, typ, odd)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("checking routes: %w", err)
	}
	if !sawDefault {
		return errors.New("no default route via the gateway")
	}
	return nil
}

// hostCount is the number of addresses in subnet.
func hostCount(subnet *net.IPNet) uint64 {
	ones, bits := subnet.Mask.Size()
	return uint64(1) << uint(bits-ones)
}

// defaultRules are the tables every namespace's IPv4 rules look up, by
// priority.
var defaultRules = map[uint32]uint32{0: unix.RT_TABLE_LOCAL, 32766: unix.RT_TABLE_MAIN, 32767: unix.RT_TABLE_DEFAULT}

// checkRules wants the three rules every namespace starts with, with
// nothing that selects the packets they apply to.
func checkRules(c *nlConn) error {
	seen := map[uint32]bool{}
	fixed := make([]byte, sizeofFibRuleHdr)
	fixed[0] = unix.AF_INET
	err := c.dumpAll(unix.RTM_GETRULE, fixed, unix.RTM_NEWRULE, func(body []byte) error {
		if len(body) < sizeofFibRuleHdr {
			return errors.New("short rule message")
		}
		// struct fib_rule_hdr: family, dst_len, src_len, tos, table,
		// two reserved bytes, action, flags.
		table, prio := uint32(body[4]), uint32(0)
		selects := body[1] != 0 || body[2] != 0 || body[3] != 0 || body[7] != unix.FR_ACT_TO_TBL ||
			binary.NativeEndian.Uint32(body[8:]) != 0
		a := nlAttrs{b: body[sizeofFibRuleHdr:]}
		for a.next() {
			switch a.typ {
			case unix.FRA_TABLE:
				table = a.u32()
			case unix.FRA_PRIORITY:
				prio = a.u32()
			case unix.FRA_PROTOCOL, unix.FRA_PAD:
			case unix.FRA_SUPPRESS_PREFIXLEN, unix.FRA_SUPPRESS_IFGROUP:
				// Only their "unset" value is dumped by some kernels.
				selects = selects || a.u32() != ^uint32(0)
			default:
				selects = true
			}
		}
		want, known := defaultRules[prio]
		switch {
		case a.bad:
			return errors.New("malformed rule message")
		case !known || want != table || seen[prio] || selects:
			return fmt.Errorf("unexpected rule %d to table %d", prio, table)
		}
		seen[prio] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("checking routing rules: %w", err)
	}
	if len(seen) != len(defaultRules) {
		return fmt.Errorf("%d routing rules, want the %d defaults", len(seen), len(defaultRules))
	}
	return nil
}

// checkNeighbours refuses static neighbour entries, which would outlive
// the pod that made them. One dump covers every family.
func checkNeighbours(c *nlConn) error {
	err := c.dumpAll(unix.RTM_GETNEIGH, make([]byte, unix.SizeofNdMsg), unix.RTM_NEWNEIGH, func(body []byte) error {
		if len(body) < unix.SizeofNdMsg {
			return errors.New("short neighbour message")
		}
		state := binary.NativeEndian.Uint16(body[8:])
		var dst net.IP
		a := nlAttrs{b: body[unix.SizeofNdMsg:]}
		for a.next() {
			if a.typ == unix.NDA_DST {
				dst = net.IP(a.val)
			}
		}
		// Multicast entries are the kernel's own (NOARP).
		if state&unix.NUD_PERMANENT != 0 && !dst.IsMulticast() {
			return fmt.Errorf("static neighbour %s", dst)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("checking neighbours: %w", err)
	}
	return nil
}

// checkQdiscs wants the default noqueue everywhere: no shaping, no
// filters.
func checkQdiscs(c *nlConn) error {
	err := c.dumpAll(unix.RTM_GETQDISC, make([]byte, sizeofTcMsg), unix.RTM_NEWQDISC, func(body []byte) error {
		if len(body) < sizeofTcMsg {
			return errors.New("short queueing discipline message")
		}
		kind := ""
		a := nlAttrs{b: body[sizeofTcMsg:]}
		for a.next() {
			if a.typ == tcaKind {
				kind = a.str()
			}
		}
		if kind != "noqueue" {
			return fmt.Errorf("queueing discipline %q", kind)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("checking queueing disciplines: %w", err)
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

// countNftTables dumps the nftables tables of the calling thread's
// namespace over a netlink socket of its own and counts them.
func countNftTables() (int, error) {
	c, err := openNL(unix.NETLINK_NETFILTER)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	const getTable = unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETTABLE
	const newTable = unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWTABLE
	// struct nfgenmsg: family, version, resource id.
	fixed := []byte{unix.AF_UNSPEC, nfnetlinkV0, 0, 0}
	count := 0
	err = c.dumpAll(getTable, fixed, newTable, func([]byte) error { count++; return nil })
	return count, err
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
