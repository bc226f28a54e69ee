//go:build linux

package network

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// TestNLBatchEncodesAsTheLibrary: a request built with nlBatch, nested
// attributes included, is byte for byte the one the netlink library
// builds.
func TestNLBatchEncodesAsTheLibrary(t *testing.T) {
	c := &nlConn{seq: 41}
	var b nlBatch
	b.begin(c, unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL, ifinfomsg(0, unix.IFF_UP, unix.IFF_UP))
	b.str(unix.IFLA_IFNAME, "eth0")
	b.u32(unix.IFLA_TXQLEN, 0)
	info := b.nest(unix.IFLA_LINKINFO)
	b.attr(unix.IFLA_INFO_KIND, []byte("veth"))
	data := b.nest(unix.IFLA_INFO_DATA)
	peer := b.nest(vethInfoPeer)
	b.raw(ifinfomsg(0, 0, 0))
	b.str(unix.IFLA_IFNAME, "peer0")
	b.u32(unix.IFLA_NET_NS_FD, 7)
	b.unnest(peer)
	b.unnest(data)
	b.unnest(info)

	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	req.Seq = 42
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Flags, msg.Change = unix.IFF_UP, unix.IFF_UP
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated("eth0")))
	req.AddData(nl.NewRtAttr(unix.IFLA_TXQLEN, nl.Uint32Attr(0)))
	li := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	li.AddRtAttr(nl.IFLA_INFO_KIND, []byte("veth"))
	pd := li.AddRtAttr(nl.IFLA_INFO_DATA, nil).AddRtAttr(nl.VETH_INFO_PEER, nil)
	nl.NewIfInfomsgChild(pd, unix.AF_UNSPEC)
	pd.AddRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated("peer0"))
	pd.AddRtAttr(unix.IFLA_NET_NS_FD, nl.Uint32Attr(7))
	req.AddData(li)

	want := req.Serialize()
	// The library leaves the port to the kernel too; only the header's
	// flags may differ in NLM_F_REQUEST, which both set.
	if !bytes.Equal(b.b, want) {
		t.Fatalf("nlBatch built\n%x\nthe library\n%x", b.b, want)
	}
	if b.n != 1 || b.first != 42 || b.last != 42 || b.ack {
		t.Fatalf("batch n=%d first=%d last=%d ack=%v", b.n, b.first, b.last, b.ack)
	}
}

// TestNLAttrsRefusesMalformedAttributes: a walk stops at an attribute
// whose length runs past the message, or at trailing bytes too short
// for one, and says so.
func TestNLAttrsRefusesMalformedAttributes(t *testing.T) {
	attr := func(typ uint16, val []byte) []byte {
		h := make([]byte, 4, 4+len(val)+3)
		binary.NativeEndian.PutUint16(h, uint16(4+len(val)))
		binary.NativeEndian.PutUint16(h[2:], typ)
		h = append(h, val...)
		for len(h)%4 != 0 {
			h = append(h, 0)
		}
		return h
	}
	good := append(attr(1, []byte("ab\x00")), attr(2|unix.NLA_F_NESTED, []byte{1, 2, 3, 4})...)
	a := nlAttrs{b: good}
	var seen []uint16
	for a.next() {
		seen = append(seen, a.typ)
	}
	if a.bad || !slices.Equal(seen, []uint16{1, 2}) {
		t.Fatalf("well-formed attributes: saw %v, bad %v", seen, a.bad)
	}
	overlong := slices.Clone(good)
	binary.NativeEndian.PutUint16(overlong[8:], 200)
	short := append(slices.Clone(good), 1, 2)
	for name, b := range map[string][]byte{"overlong": overlong, "trailing bytes": short} {
		a := nlAttrs{b: b}
		for a.next() {
		}
		if !a.bad {
			t.Errorf("%s: walk not flagged as bad", name)
		}
	}
}

// TestParseLinkReadsXDP: a link with an XDP program attached reads as
// such; one whose XDP attribute says none is attached does not.
func TestParseLinkReadsXDP(t *testing.T) {
	for _, c := range []struct {
		attached byte
		want     bool
	}{{xdpAttachedNone, false}, {1, true}} {
		var b nlBatch
		b.begin(&nlConn{}, unix.RTM_NEWLINK, 0, ifinfomsg(3, unix.IFF_UP, 0))
		b.str(unix.IFLA_IFNAME, "eth0")
		x := b.nest(unix.IFLA_XDP | unix.NLA_F_NESTED)
		b.attr(unix.IFLA_XDP_ATTACHED, []byte{c.attached})
		b.unnest(x)
		l, err := parseLink(b.b[unix.SizeofNlMsghdr:])
		if err != nil {
			t.Fatal(err)
		}
		if l.xdp != c.want || l.index != 3 || l.name != "eth0" || l.flags&unix.IFF_UP == 0 {
			t.Errorf("attached %d: parsed %+v", c.attached, l)
		}
	}
}

// TestNLDumpsMatchTheLibrary: in a pod's namespace given some of
// everything, the bare dumps the pristine check makes list what the
// netlink library lists.
func TestNLDumpsMatchTheLibrary(t *testing.T) {
	requireRoot(t)
	m := newTestManager(t)
	p := mustSetup(t, m, "dumps")
	err := inNamespace(t, p.NetNS, func() error {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		defer h.Close()
		if err := furnish(h, m); err != nil {
			return fmt.Errorf("furnishing the namespace: %w", err)
		}
		c, err := openNL(unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		defer c.Close()
		for _, d := range []struct {
			name string
			lib  func(*netlink.Handle) ([]string, error)
			raw  func(*nlConn) ([]string, error)
		}{
			{"links", libLinks, rawLinks},
			{"addresses", libAddrs, rawAddrs},
			{"routes", libRoutes, rawRoutes},
			{"rules", libRules, rawRules},
			{"neighbours", libNeighs, rawNeighs},
			{"qdiscs", libQdiscs, rawQdiscs},
		} {
			want, err := d.lib(h)
			if err != nil {
				return fmt.Errorf("%s through the library: %w", d.name, err)
			}
			got, err := d.raw(c)
			if err != nil {
				return fmt.Errorf("%s dumped bare: %w", d.name, err)
			}
			sort.Strings(want)
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s dumped bare:\n%q\nthrough the library:\n%q", d.name, got, want)
			}
			if len(got) < 2 {
				t.Errorf("%s: only %q, a poor comparison", d.name, got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// furnish gives the namespace a second link, addresses, routes in two
// tables, a rule, neighbours and queueing disciplines.
func furnish(h *netlink.Handle, m *Manager) error {
	// No dummy links in every kernel; a pair of veths will do.
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "extra0", MTU: 1400}, PeerName: "extra1"}); err != nil {
		return err
	}
	dummy, err := h.LinkByName("extra0")
	if err != nil {
		return err
	}
	if err := h.LinkSetUp(dummy); err != nil {
		return err
	}
	eth, err := h.LinkByName(podInterface)
	if err != nil {
		return err
	}
	for _, a := range []*netlink.Addr{
		{IPNet: &net.IPNet{IP: net.IPv4(192, 0, 2, 1), Mask: net.CIDRMask(24, 32)}},
		{IPNet: &net.IPNet{IP: net.ParseIP("2001:db8::1"), Mask: net.CIDRMask(64, 128)}, Flags: unix.IFA_F_NODAD},
	} {
		if err := h.AddrAdd(dummy, a); err != nil {
			return err
		}
	}
	dst := &net.IPNet{IP: net.IPv4(198, 51, 100, 0).To4(), Mask: net.CIDRMask(24, 32)}
	for _, r := range []*netlink.Route{
		{LinkIndex: eth.Attrs().Index, Dst: dst, Gw: m.Gateway()},
		{LinkIndex: dummy.Attrs().Index, Dst: dst, Table: 100},
		{LinkIndex: dummy.Attrs().Index, Dst: dst, Table: 1000, Type: unix.RTN_UNICAST},
	} {
		if err := h.RouteAdd(r); err != nil {
			return fmt.Errorf("route %s: %w", r, err)
		}
	}
	rule := netlink.NewRule()
	rule.Priority, rule.Table = 100, 100
	rule.Src = &net.IPNet{IP: net.IPv4(192, 0, 2, 0).To4(), Mask: net.CIDRMask(24, 32)}
	if err := h.RuleAdd(rule); err != nil {
		return err
	}
	for _, n := range []*netlink.Neigh{
		{LinkIndex: eth.Attrs().Index, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT,
			IP: m.Gateway(), HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}},
		{LinkIndex: dummy.Attrs().Index, Family: netlink.FAMILY_V6, State: netlink.NUD_PERMANENT,
			IP: net.ParseIP("2001:db8::2"), HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 2}},
	} {
		if err := h.NeighAdd(n); err != nil {
			return err
		}
	}
	return h.QdiscAdd(&netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: dummy.Attrs().Index,
		Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_INGRESS}})
}

func libLinks(h *netlink.Handle) ([]string, error) {
	links, err := h.LinkList()
	var out []string
	for _, l := range links {
		a := l.Attrs()
		kind := l.Type()
		if kind == "device" {
			kind = "" // the library's name for none
		}
		out = append(out, fmt.Sprintf("%d %s mtu %d master %d up %v kind %s",
			a.Index, a.Name, a.MTU, a.MasterIndex, a.Flags&net.FlagUp != 0, kind))
	}
	return out, err
}

func rawLinks(c *nlConn) ([]string, error) {
	var out []string
	err := c.dumpAll(unix.RTM_GETLINK, ifinfomsg(0, 0, 0), unix.RTM_NEWLINK, func(body []byte) error {
		l, err := parseLink(body)
		out = append(out, fmt.Sprintf("%d %s mtu %d master %d up %v kind %s",
			l.index, l.name, l.mtu, l.master, l.flags&unix.IFF_UP != 0, l.kind))
		return err
	})
	return out, err
}

func libAddrs(h *netlink.Handle) ([]string, error) {
	addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
	var out []string
	for _, a := range addrs {
		out = append(out, fmt.Sprintf("%d %s", a.LinkIndex, a.IPNet))
	}
	return out, err
}

func rawAddrs(c *nlConn) ([]string, error) {
	var out []string
	err := c.dumpAll(unix.RTM_GETADDR, make([]byte, unix.SizeofIfAddrmsg), unix.RTM_NEWADDR, func(body []byte) error {
		var ip net.IP
		a := nlAttrs{b: body[unix.SizeofIfAddrmsg:]}
		for a.next() {
			if a.typ == unix.IFA_LOCAL || (a.typ == unix.IFA_ADDRESS && ip == nil) {
				ip = net.IP(a.val)
			}
		}
		n := &net.IPNet{IP: ip, Mask: net.CIDRMask(int(body[1]), 8*len(ip))}
		out = append(out, fmt.Sprintf("%d %s", binary.NativeEndian.Uint32(body[4:]), n))
		return nil
	})
	return out, err
}

func libRoutes(h *netlink.Handle) ([]string, error) {
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	var out []string
	for _, r := range routes {
		dst := "default"
		if r.Dst != nil && !isDefaultDst(r.Dst) {
			dst = r.Dst.String()
		}
		out = append(out, fmt.Sprintf("table %d %s via %v dev %d type %d", r.Table, dst, r.Gw, r.LinkIndex, r.Type))
	}
	return out, err
}

func isDefaultDst(n *net.IPNet) bool {
	ones, _ := n.Mask.Size()
	return ones == 0 && n.IP.IsUnspecified()
}

func rawRoutes(c *nlConn) ([]string, error) {
	var out []string
	fixed := make([]byte, unix.SizeofRtMsg)
	fixed[0] = unix.AF_INET
	err := c.dumpAll(unix.RTM_GETROUTE, fixed, unix.RTM_NEWROUTE, func(body []byte) error {
		if binary.NativeEndian.Uint32(body[8:])&unix.RTM_F_CLONED != 0 {
			return nil
		}
		table := uint32(body[4])
		dst, oif := "default", 0
		var gw net.IP
		a := nlAttrs{b: body[unix.SizeofRtMsg:]}
		for a.next() {
			switch a.typ {
			case unix.RTA_TABLE:
				table = a.u32()
			case unix.RTA_DST:
				dst = (&net.IPNet{IP: net.IP(a.val), Mask: net.CIDRMask(int(body[1]), 32)}).String()
			case unix.RTA_GATEWAY:
				gw = net.IP(a.val)
			case unix.RTA_OIF:
				oif = int(a.u32())
			}
		}
		out = append(out, fmt.Sprintf("table %d %s via %v dev %d type %d", table, dst, gw, oif, body[7]))
		return nil
	})
	return out, err
}

func libRules(h *netlink.Handle) ([]string, error) {
	rules, err := h.RuleList(netlink.FAMILY_V4)
	var out []string
	for _, r := range rules {
		out = append(out, fmt.Sprintf("%d table %d from %v", r.Priority, r.Table, r.Src))
	}
	return out, err
}

func rawRules(c *nlConn) ([]string, error) {
	var out []string
	fixed := make([]byte, sizeofFibRuleHdr)
	fixed[0] = unix.AF_INET
	err := c.dumpAll(unix.RTM_GETRULE, fixed, unix.RTM_NEWRULE, func(body []byte) error {
		table, prio := uint32(body[4]), uint32(0)
		var src *net.IPNet
		a := nlAttrs{b: body[sizeofFibRuleHdr:]}
		for a.next() {
			switch a.typ {
			case unix.FRA_TABLE:
				table = a.u32()
			case unix.FRA_PRIORITY:
				prio = a.u32()
			case unix.FRA_SRC:
				src = &net.IPNet{IP: net.IP(a.val), Mask: net.CIDRMask(int(body[2]), 32)}
			}
		}
		out = append(out, fmt.Sprintf("%d table %d from %v", prio, table, src))
		return nil
	})
	return out, err
}

func libNeighs(h *netlink.Handle) ([]string, error) {
	neighs, err := h.NeighList(0, netlink.FAMILY_ALL)
	var out []string
	for _, n := range neighs {
		out = append(out, fmt.Sprintf("%d %s state %#x", n.LinkIndex, n.IP, n.State))
	}
	return out, err
}

func rawNeighs(c *nlConn) ([]string, error) {
	var out []string
	err := c.dumpAll(unix.RTM_GETNEIGH, make([]byte, unix.SizeofNdMsg), unix.RTM_NEWNEIGH, func(body []byte) error {
		var dst net.IP
		a := nlAttrs{b: body[unix.SizeofNdMsg:]}
		for a.next() {
			if a.typ == unix.NDA_DST {
				dst = net.IP(a.val)
			}
		}
		out = append(out, fmt.Sprintf("%d %s state %#x", int32(binary.NativeEndian.Uint32(body[4:])), dst,
			binary.NativeEndian.Uint16(body[8:])))
		return nil
	})
	return out, err
}

func libQdiscs(h *netlink.Handle) ([]string, error) {
	qdiscs, err := h.QdiscList(nil)
	var out []string
	for _, q := range qdiscs {
		out = append(out, fmt.Sprintf("%d %s", q.Attrs().LinkIndex, q.Type()))
	}
	return out, err
}

func rawQdiscs(c *nlConn) ([]string, error) {
	var out []string
	err := c.dumpAll(unix.RTM_GETQDISC, make([]byte, sizeofTcMsg), unix.RTM_NEWQDISC, func(body []byte) error {
		kind := ""
		a := nlAttrs{b: body[sizeofTcMsg:]}
		for a.next() {
			if a.typ == tcaKind {
				kind = a.str()
			}
		}
		out = append(out, fmt.Sprintf("%d %s", int32(binary.NativeEndian.Uint32(body[4:])), kind))
		return nil
	})
	return out, err
}

// TestNLConnReportsErrorsAndStaysUsable: a batch answers with its first
// failing request's error, after the rest ran; an answer left unread or
// a dump whose reader failed do not spoil the next request.
func TestNLConnReportsErrorsAndStaysUsable(t *testing.T) {
	requireRoot(t)
	m := newTestManager(t)
	p := mustSetup(t, m, "errors")
	err := inNamespace(t, p.NetNS, func() error {
		c, err := openNL(unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		defer c.Close()

		// An address for a link that does not exist, then a look-up
		// of the loopback, which still runs and answers.
		var b nlBatch
		ifa := []byte{unix.AF_INET, 24, 0, 0, 0, 0, 0, 0}
		binary.NativeEndian.PutUint32(ifa[4:], 999)
		b.begin(c, unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, ifa)
		b.attr(unix.IFA_LOCAL, net.IPv4(192, 0, 2, 9).To4())
		b.begin(c, unix.RTM_GETLINK, 0, ifinfomsg(loopbackIndex, 0, 0))
		var names []string
		err = c.do(&b, func(typ uint16, body []byte) error {
			l, err := parseLink(body)
			names = append(names, l.name)
			return err
		})
		if !errors.Is(err, unix.ENODEV) {
			t.Errorf("batch with a failing request: %v, want ENODEV", err)
		}
		if !slices.Equal(names, []string{"lo"}) {
			t.Errorf("batch answered %v, want the loopback", names)
		}

		// A request whose answer nobody reads.
		var stale nlBatch
		stale.begin(c, unix.RTM_GETLINK, unix.NLM_F_ACK, ifinfomsg(loopbackIndex, 0, 0))
		if err := c.send(&stale); err != nil {
			return err
		}
		// A dump whose reader gives up at the first message.
		giveUp := errors.New("enough")
		calls := 0
		err = c.dumpAll(unix.RTM_GETLINK, ifinfomsg(0, 0, 0), unix.RTM_NEWLINK, func([]byte) error {
			calls++
			return giveUp
		})
		if !errors.Is(err, giveUp) || calls != 1 {
			t.Errorf("dump whose reader failed: %v after %d messages, want its error after 1", err, calls)
		}
		links, err := rawLinks(c)
		if err != nil || len(links) != 2 {
			t.Errorf("the next dump: %q, %v; want lo and %s", links, err, podInterface)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
