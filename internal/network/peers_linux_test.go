//go:build linux

package network

import (
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// testHost is a network namespace standing in for a machine.
type testHost struct {
	path string
	ns   netns.NsHandle
	h    *netlink.Handle
}

// newTestHost makes an empty network namespace, bound at a file of the
// test, and a netlink handle into it.
func newTestHost(t *testing.T, name string) *testHost {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := touch(path); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is left in the new namespace and dies with this
		// goroutine.
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		errc <- unix.Mount(self, path, "", unix.MS_BIND, "")
	}()
	if err := <-errc; err != nil {
		t.Fatalf("making host namespace %s: %v", name, err)
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close()
		ns.Close()
		_ = unix.Unmount(path, unix.MNT_DETACH)
	})
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("loopback of %s: %v", name, err)
	}
	return &testHost{path: path, ns: ns, h: h}
}

// cable joins two hosts with a veth pair addressed a and b (CIDR form).
func cable(t *testing.T, x, y *testHost, a, b string) {
	t.Helper()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0", Namespace: netlink.NsFd(int(x.ns))},
		PeerName: "eth0", PeerNamespace: netlink.NsFd(int(y.ns))}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("veth between hosts: %v", err)
	}
	for _, end := range []struct {
		host *testHost
		addr string
	}{{x, a}, {y, b}} {
		l, err := end.host.h.LinkByName("eth0")
		if err != nil {
			t.Fatal(err)
		}
		ip, subnet, err := net.ParseCIDR(end.addr)
		if err != nil {
			t.Fatal(err)
		}
		subnet.IP = ip
		if err := end.host.h.AddrAdd(l, &netlink.Addr{IPNet: subnet}); err != nil {
			t.Fatal(err)
		}
		if err := end.host.h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
}

// managerOn starts a node's pod network inside host.
func managerOn(t *testing.T, host *testHost, cidr string) *Manager {
	t.Helper()
	var m *Manager
	err := inNamespace(t, host.path, func() error {
		var err error
		m, err = New(Config{StateDir: t.TempDir(), CIDR: cidr})
		return err
	})
	if err != nil {
		t.Fatalf("pod network on %s: %v", host.path, err)
	}
	tearDownAtEnd(t, m)
	return m
}

func peerRoutesOf(t *testing.T, m *Manager) map[string]string {
	t.Helper()
	routes, err := m.host.RouteListFiltered(netlink.FAMILY_V4,
		&netlink.Route{Protocol: RouteProtocol, Table: syscall.RT_TABLE_MAIN},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range routes {
		got[r.Dst.String()] = r.Gw.String()
	}
	return got
}

func TestPodsOnTwoMachinesReachEachOtherThroughPeerRoutes(t *testing.T) {
	requireRoot(t)
	hostA, hostB := newTestHost(t, "host-a"), newTestHost(t, "host-b")
	cable(t, hostA, hostB, "192.0.2.1/24", "192.0.2.2/24")
	mA := managerOn(t, hostA, "10.251.1.0/24")
	mB := managerOn(t, hostB, "10.251.2.0/24")

	podA := mustSetup(t, mA, "a")
	podB := mustSetup(t, mB, "b")
	serveName(t, podA, 7000, "a")
	serveName(t, podB, 7000, "b")
	addrA := net.JoinHostPort(podA.IP.String(), "7000")
	addrB := net.JoinHostPort(podB.IP.String(), "7000")
	if _, err := fetch(t, podA.NetNS, addrB); err == nil {
		t.Fatal("pod a reached pod b with no route between the machines")
	}

	peersOfA := []Peer{
		{Node: "b", CIDR: "10.251.2.0/24", NodeIP: "192.0.2.2"},
		{Node: "a", CIDR: "10.251.1.0/24", NodeIP: "192.0.2.1"}, // itself: no route
	}
	if err := mA.SyncPeers(peersOfA); err != nil {
		t.Fatalf("SyncPeers on a: %v", err)
	}
	if err := mB.SyncPeers([]Peer{{Node: "a", CIDR: "10.251.1.0/24", NodeIP: "192.0.2.1"}}); err != nil {
		t.Fatalf("SyncPeers on b: %v", err)
	}
	if got := peerRoutesOf(t, mA); len(got) != 1 || got["10.251.2.0/24"] != "192.0.2.2" {
		t.Fatalf("routes on a = %v", got)
	}
	if got, err := fetch(t, podA.NetNS, addrB); err != nil || got != "b" {
		t.Fatalf("pod a → pod b = %q, %v", got, err)
	}
	if got, err := fetch(t, podB.NetNS, addrA); err != nil || got != "a" {
		t.Fatalf("pod b → pod a = %q, %v", got, err)
	}
	// Repeating the same peers changes nothing.
	if err := mA.SyncPeers(peersOfA); err != nil {
		t.Fatalf("SyncPeers again: %v", err)
	}

	// A route that is not ours survives; ours goes with its node.
	eth, err := hostA.h.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	foreign := &net.IPNet{IP: net.IPv4(198, 51, 100, 0).To4(), Mask: net.CIDRMask(24, 32)}
	if err := hostA.h.RouteAdd(&netlink.Route{Dst: foreign, Gw: net.ParseIP("192.0.2.2"), LinkIndex: eth.Attrs().Index}); err != nil {
		t.Fatal(err)
	}
	if err := mA.SyncPeers(nil); err != nil {
		t.Fatalf("SyncPeers with no peers: %v", err)
	}
	if got := peerRoutesOf(t, mA); len(got) != 0 {
		t.Fatalf("routes on a after b left = %v", got)
	}
	if _, err := fetch(t, podA.NetNS, addrB); err == nil {
		t.Fatal("pod a still reaches pod b after b's route was removed")
	}
	if rs, err := hostA.h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: foreign}, netlink.RT_FILTER_DST); err != nil || len(rs) != 1 {
		t.Fatalf("foreign route after sync: %v, %v", rs, err)
	}

	// A peer behind a router (not on a shared network) is reported, and
	// a CIDR the host routes by itself is not taken over.
	err = mA.SyncPeers([]Peer{
		{Node: "far", CIDR: "10.251.3.0/24", NodeIP: "203.0.113.9"},
		{Node: "taken", CIDR: "198.51.100.0/24", NodeIP: "192.0.2.2"},
		{Node: "b", CIDR: "10.251.2.0/24", NodeIP: "192.0.2.2"},
	})
	if err == nil {
		t.Fatal("SyncPeers with an unreachable and a taken peer reported no error")
	}
	for _, node := range []string{"node far:", "node taken:"} {
		if !strings.Contains(err.Error(), node) {
			t.Errorf("error does not name %q: %v", node, err)
		}
	}
	if got := peerRoutesOf(t, mA); len(got) != 1 || got["10.251.2.0/24"] != "192.0.2.2" {
		t.Fatalf("routes on a = %v, want only b's", got)
	}
}

// serveRemoteAddress listens on addr inside the namespace at nsPath and
// answers each connection with the address it came from.
func serveRemoteAddress(t *testing.T, nsPath, addr string) {
	t.Helper()
	var ln net.Listener
	if err := inNamespace(t, nsPath, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatalf("listening on %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			_, _ = c.Write([]byte(host + "\n"))
			c.Close()
		}
	}()
}

func TestPodsLeaveTheMachineUnderItsAddressButReachPeerPodsAsThemselves(t *testing.T) {
	requireRoot(t)
	hostA, hostB, outside := newTestHost(t, "host-a"), newTestHost(t, "host-b"), newTestHost(t, "outside")
	cable(t, hostA, hostB, "192.0.2.1/24", "192.0.2.2/24")
	// The outside host knows nothing of pod CIDRs: it can only answer
	// hostA's own address.
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "uplink", Namespace: netlink.NsFd(int(hostA.ns))},
		PeerName: "uplink", PeerNamespace: netlink.NsFd(int(outside.ns))}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	for _, end := range []struct {
		host *testHost
		addr string
	}{{hostA, "198.18.0.1/24"}, {outside, "198.18.0.2/24"}} {
		l, err := end.host.h.LinkByName("uplink")
		if err != nil {
			t.Fatal(err)
		}
		addr, err := netlink.ParseAddr(end.addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := end.host.h.AddrAdd(l, addr); err != nil {
			t.Fatal(err)
		}
		if err := end.host.h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	mA := managerOn(t, hostA, "10.251.1.0/24")
	mB := managerOn(t, hostB, "10.251.2.0/24")
	if err := mA.SyncPeers([]Peer{{Node: "b", CIDR: "10.251.2.0/24", NodeIP: "192.0.2.2"}}); err != nil {
		t.Fatal(err)
	}
	if err := mB.SyncPeers([]Peer{{Node: "a", CIDR: "10.251.1.0/24", NodeIP: "192.0.2.1"}}); err != nil {
		t.Fatal(err)
	}
	podA := mustSetup(t, mA, "a")
	podB := mustSetup(t, mB, "b")
	serveRemoteAddress(t, outside.path, "198.18.0.2:7001")
	serveRemoteAddress(t, podB.NetNS, "0.0.0.0:7001")

	if got, err := fetch(t, podA.NetNS, "198.18.0.2:7001"); err != nil || got != "198.18.0.1" {
		t.Fatalf("the outside host saw pod a as %q (%v), want hostA's address 198.18.0.1", got, err)
	}
	if got, err := fetch(t, podA.NetNS, net.JoinHostPort(podB.IP.String(), "7001")); err != nil || got != podA.IP.String() {
		t.Fatalf("pod b saw pod a as %q (%v), want pod a's own %s", got, err, podA.IP)
	}
	// The host itself is not translated either.
	if got, err := fetch(t, hostA.path, "198.18.0.2:7001"); err != nil || got != "198.18.0.1" {
		t.Fatalf("the outside host saw hostA as %q (%v)", got, err)
	}
}

func TestNodesOfOtherClustersOnTheHostKeepTheirPeerRoutes(t *testing.T) {
	requireRoot(t)
	hostA, hostB := newTestHost(t, "host-a"), newTestHost(t, "host-b")
	cable(t, hostA, hostB, "192.0.2.1/24", "192.0.2.2/24")
	// Two nodes on hostA, of two clusters: only the first has a peer.
	first := managerOn(t, hostA, "10.251.1.0/24")
	second := managerOn(t, hostA, "10.251.5.0/24")
	if err := first.SyncPeers([]Peer{{Node: "b", CIDR: "10.251.2.0/24", NodeIP: "192.0.2.2"}}); err != nil {
		t.Fatal(err)
	}
	if err := second.SyncPeers(nil); err != nil {
		t.Fatal(err)
	}
	if got := peerRoutesOf(t, first); got["10.251.2.0/24"] != "192.0.2.2" {
		t.Fatalf("routes after the other cluster's node synced = %v; its sync removed the first node's route", got)
	}
	// The first node still removes its own once the peer is gone.
	if err := first.SyncPeers(nil); err != nil {
		t.Fatal(err)
	}
	if got := peerRoutesOf(t, first); len(got) != 0 {
		t.Fatalf("routes after the peer left = %v", got)
	}
}
