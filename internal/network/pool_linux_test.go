//go:build linux

package network

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/batchlet/batchlet/internal/testutil"
)

// nsInode is the identity of the namespace mounted at path.
func nsInode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return st.Ino
}

// waitFor polls cond until it holds or the deadline passes: generous, as
// the kernel destroys namespaces in the background, on a shared machine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustPark(t *testing.T, m *Manager, key string) {
	t.Helper()
	if err := m.Park(key); err != nil {
		t.Fatalf("parking %s: %v", key, err)
	}
}

// parkedFiles lists the parked namespaces of m: mounted files, but for
// those of namespaces serving a pod again, which stay mounted there too.
func parkedFiles(t *testing.T, m *Manager) []string {
	t.Helper()
	entries, err := os.ReadDir(m.nsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		ip := net.ParseIP(strings.TrimPrefix(e.Name(), parkedPrefix))
		if strings.HasPrefix(e.Name(), parkedPrefix) && nsMounted(filepath.Join(m.nsDir, e.Name())) &&
			(ip == nil || !m.sharesParkedMount(ip)) {
			out = append(out, e.Name())
		}
	}
	return out
}

// addressRecords lists the address records of the node with stateDir;
// none when their directory is gone.
func addressRecords(t *testing.T, stateDir string) map[string]string {
	t.Helper()
	dir := addressDir(stateDir)
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = strings.TrimSpace(string(data))
	}
	return out
}

// vethGone waits for the kernel to remove a destroyed namespace's pair.
func vethGone(t *testing.T, name string) {
	t.Helper()
	waitFor(t, "veth "+name+" to go", func() bool {
		_, err := netlink.LinkByName(name)
		return err != nil
	})
}

func TestParkedNamespaceServesTheNextPod(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	m := newTestManagerWith(t, Config{StateDir: dir})
	a := mustSetup(t, m, "pod-a")
	ino := nsInode(t, a.NetNS)
	mustPark(t, m, "pod-a")
	if m.Parked() != 1 {
		t.Fatalf("Parked() = %d after parking a pristine namespace, want 1", m.Parked())
	}
	if keys := m.Keys(); len(keys) != 0 {
		t.Fatalf("Keys() = %v with only a parked namespace", keys)
	}
	if _, err := os.Stat(a.NetNS); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pod-a's namespace file still there after parking (%v)", err)
	}
	if _, ok := m.Lookup("pod-a"); ok {
		t.Fatal("pod-a still has a network after parking")
	}
	if recs := addressRecords(t, dir); len(recs) != 0 {
		t.Fatalf("address records %v while only a namespace is parked", recs)
	}

	b := mustSetup(t, m, "pod-b")
	if !b.IP.Equal(a.IP) || b.HostVeth != a.HostVeth {
		t.Fatalf("pod-b got %s/%s, want the parked %s/%s", b.IP, b.HostVeth, a.IP, a.HostVeth)
	}
	if got := nsInode(t, b.NetNS); got != ino {
		t.Fatalf("pod-b's namespace is inode %d, want the parked %d", got, ino)
	}
	if m.Parked() != 0 || len(parkedFiles(t, m)) != 0 {
		t.Fatalf("after reuse %d parked, files %v", m.Parked(), parkedFiles(t, m))
	}
	if keys := m.Keys(); !slices.Equal(keys, []string{"pod-b"}) {
		t.Fatalf("Keys() = %v, want [pod-b]", keys)
	}
	if recs := addressRecords(t, dir); len(recs) != 1 || recs[b.IP.String()] != "pod-b" {
		t.Fatalf("address records %v, want %s held by pod-b", recs, b.IP)
	}
	host, err := netlink.LinkByName(b.HostVeth)
	if err != nil {
		t.Fatal(err)
	}
	if host.Attrs().MasterIndex != m.bridge.Attrs().Index || host.Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("host end %s not up on %s", b.HostVeth, m.Bridge())
	}

	// The reused namespace works: pod-b reaches the host at the gateway
	// and another pod, and is reached at its address.
	c := mustSetup(t, m, "pod-c")
	serveName(t, c, 8081, "c")
	serveName(t, b, 8081, "b")
	if got, err := fetch(t, b.NetNS, net.JoinHostPort(c.IP.String(), "8081")); err != nil || got != "c" {
		t.Errorf("pod-b to pod-c = %q, %v", got, err)
	}
	if got, err := fetch(t, c.NetNS, net.JoinHostPort(b.IP.String(), "8081")); err != nil || got != "b" {
		t.Errorf("pod-c to pod-b = %q, %v", got, err)
	}
	hostLn, err := net.Listen("tcp", net.JoinHostPort(m.Gateway().String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer hostLn.Close()
	go func() {
		if conn, err := hostLn.Accept(); err == nil {
			_, _ = io.WriteString(conn, "host\n")
			conn.Close()
		}
	}()
	if got, err := fetch(t, b.NetNS, hostLn.Addr().String()); err != nil || got != "host" {
		t.Errorf("pod-b to the host = %q, %v", got, err)
	}

	// After an agent restart the running pod keeps the reused namespace.
	m.closeHandles()
	m2, err := New(Config{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	m = m2
	again := mustSetup(t, m, "pod-b")
	if !again.IP.Equal(b.IP) || nsInode(t, again.NetNS) != ino {
		t.Fatalf("after restart pod-b has %s in inode %d, want %s in %d", again.IP, nsInode(t, again.NetNS), b.IP, ino)
	}
}

func TestTamperedNamespaceIsNotReused(t *testing.T) {
	requireRoot(t)
	tamper := map[string]func(h *netlink.Handle, m *Manager) error{
		"extra address": func(h *netlink.Handle, m *Manager) error {
			eth, err := h.LinkByName(podInterface)
			if err != nil {
				return err
			}
			extra := &net.IPNet{IP: nthIP(m.subnet, 200), Mask: m.subnet.Mask}
			return h.AddrAdd(eth, &netlink.Addr{IPNet: extra})
		},
		"extra link": func(h *netlink.Handle, _ *Manager) error {
			return h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "extra0"}, PeerName: "extra1"})
		},
		"eth0 down": func(h *netlink.Handle, _ *Manager) error {
			eth, err := h.LinkByName(podInterface)
			if err != nil {
				return err
			}
			return h.LinkSetDown(eth)
		},
		"extra route": func(h *netlink.Handle, m *Manager) error {
			eth, err := h.LinkByName(podInterface)
			if err != nil {
				return err
			}
			dst := &net.IPNet{IP: net.IPv4(192, 0, 2, 0).To4(), Mask: net.CIDRMask(24, 32)}
			return h.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Dst: dst, Gw: m.Gateway()})
		},
		"nftables table": func(_ *netlink.Handle, _ *Manager) error {
			conn, err := nftables.New()
			if err != nil {
				return err
			}
			conn.AddTable(&nftables.Table{Name: "pod", Family: nftables.TableFamilyINet})
			return conn.Flush()
		},
		"global IPv6 address": func(h *netlink.Handle, _ *Manager) error {
			eth, err := h.LinkByName(podInterface)
			if err != nil {
				return err
			}
			extra := &net.IPNet{IP: net.ParseIP("2001:db8::7"), Mask: net.CIDRMask(64, 128)}
			return h.AddrAdd(eth, &netlink.Addr{IPNet: extra, Flags: unix.IFA_F_NODAD})
		},
		"static IPv6 neighbour": func(h *netlink.Handle, _ *Manager) error {
			eth, err := h.LinkByName(podInterface)
			if err != nil {
				return err
			}
			return h.NeighAdd(&netlink.Neigh{LinkIndex: eth.Attrs().Index, Family: netlink.FAMILY_V6,
				State: netlink.NUD_PERMANENT, IP: net.ParseIP("fe80::1"), HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}})
		},
		"iptables table": func(_ *netlink.Handle, _ *Manager) error {
			return instantiateIptablesFilter()
		},
		"static neighbour": func(h *netlink.Handle, m *Manager) error {
			eth, err := h.LinkByName(podInterface)
			if err != nil {
				return err
			}
			return h.NeighAdd(&netlink.Neigh{LinkIndex: eth.Attrs().Index, Family: netlink.FAMILY_V4,
				State: netlink.NUD_PERMANENT, IP: m.Gateway(), HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}})
		},
		"extra rule": func(h *netlink.Handle, _ *Manager) error {
			r := netlink.NewRule()
			r.Priority, r.Table = 100, 100
			return h.RuleAdd(r)
		},
		"main rule made selective": func(h *netlink.Handle, _ *Manager) error {
			r := netlink.NewRule()
			r.Priority, r.Table = 32766, unix.RT_TABLE_MAIN
			if err := h.RuleDel(r); err != nil {
				return err
			}
			r.Src = &net.IPNet{IP: net.IPv4(192, 0, 2, 0).To4(), Mask: net.CIDRMask(24, 32)}
			return h.RuleAdd(r)
		},
		"shaping qdisc": func(h *netlink.Handle, _ *Manager) error {
			eth, err := h.LinkByName(podInterface)
			if err != nil {
				return err
			}
			return h.QdiscAdd(&netlink.Tbf{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: eth.Attrs().Index,
				Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT}, Rate: 1 << 20, Limit: 1 << 16, Buffer: 1 << 14})
		},
		"ingress qdisc": func(h *netlink.Handle, _ *Manager) error {
			eth, err := h.LinkByName(podInterface)
			if err != nil {
				return err
			}
			return h.QdiscAdd(&netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: eth.Attrs().Index,
				Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_INGRESS}})
		},
		"eth0 MTU": func(h *netlink.Handle, _ *Manager) error {
			eth, err := h.LinkByName(podInterface)
			if err != nil {
				return err
			}
			return h.LinkSetMTU(eth, 1400)
		},
		"loopback address gone": func(h *netlink.Handle, _ *Manager) error {
			lo, err := h.LinkByName("lo")
			if err != nil {
				return err
			}
			return h.AddrDel(lo, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(127, 0, 0, 1).To4(), Mask: net.CIDRMask(8, 32)}})
		},
		"CIDR made local": func(h *netlink.Handle, m *Manager) error {
			eth, err := h.LinkByName(podInterface)
			if err != nil {
				return err
			}
			wide := &net.IPNet{IP: m.subnet.IP, Mask: net.CIDRMask(16, 32)}
			wide.IP = wide.IP.Mask(wide.Mask)
			return h.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Dst: wide, Table: unix.RT_TABLE_LOCAL,
				Type: unix.RTN_LOCAL, Scope: unix.RT_SCOPE_HOST})
		},
		"subnet route made local": func(h *netlink.Handle, m *Manager) error {
			eth, err := h.LinkByName(podInterface)
			if err != nil {
				return err
			}
			r := &netlink.Route{LinkIndex: eth.Attrs().Index, Dst: m.subnet, Scope: unix.RT_SCOPE_LINK, Protocol: unix.RTPROT_KERNEL}
			if err := h.RouteDel(r); err != nil {
				return err
			}
			r.Type, r.Scope = unix.RTN_LOCAL, unix.RT_SCOPE_HOST
			return h.RouteAdd(r)
		},
		"default route with metrics": func(h *netlink.Handle, m *Manager) error {
			eth, err := h.LinkByName(podInterface)
			if err != nil {
				return err
			}
			return h.RouteReplace(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: m.Gateway(), MTU: 1000})
		},
	}
	m := newTestManager(t)
	for name, fn := range tamper {
		t.Run(name, func(t *testing.T) {
			key := "tampered-" + strings.ReplaceAll(name, " ", "-")
			p := mustSetup(t, m, key)
			err := inNamespace(t, p.NetNS, func() error {
				h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
				if err != nil {
					return err
				}
				defer h.Close()
				return fn(h, m)
			})
			if err != nil {
				t.Fatalf("tampering: %v", err)
			}
			err = m.checkPristine(p)
			if err == nil {
				t.Fatal("checkPristine found nothing wrong")
			}
			t.Logf("refused: %v", err)
			mustPark(t, m, key)
			if m.Parked() != 0 || len(parkedFiles(t, m)) != 0 {
				t.Fatalf("a tampered namespace was parked")
			}
			if _, err := os.Stat(p.NetNS); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("namespace file left (%v)", err)
			}
			if _, ok := m.Lookup(key); ok {
				t.Fatal("address not freed")
			}
			vethGone(t, p.HostVeth)
		})
	}
	// Untouched, the same steps do park.
	p := mustSetup(t, m, "untouched")
	if err := m.checkPristine(p); err != nil {
		t.Fatalf("checkPristine of a fresh namespace: %v", err)
	}
}

// instantiateIptablesFilter makes the legacy iptables filter table exist
// in the calling thread's namespace, as the iptables command does by
// asking for its size.
func instantiateIptablesFilter() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	const getInfo = 64 // IPT_SO_GET_INFO
	var info [84]byte  // struct ipt_getinfo, named by its first field
	copy(info[:], "filter")
	size := uint32(len(info))
	if _, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_IP, getInfo,
		uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&size)), 0); errno != 0 {
		return errno
	}
	return nil
}

// TestReusedNamespaceRecyclesItsFiles: parking and reusing a namespace
// makes its next pod's namespace file and address record of what its
// last pod left, and leaves nothing of them once the namespace goes.
func TestReusedNamespaceRecyclesItsFiles(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	m, err := New(Config{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = m.Close()
		}
	})
	a := mustSetup(t, m, "pod-a")
	mustPark(t, m, "pod-a")
	ip := a.IP.String()
	if _, err := os.Stat(a.NetNS); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pod-a's namespace file left after parking (%v)", err)
	}
	if _, ok := addressRecords(t, dir)[ip]; ok {
		t.Fatalf("parked %s still recorded", ip)
	}
	if !nsMounted(m.parkedPath(a.IP)) {
		t.Fatal("the parked namespace is not mounted")
	}

	// A key of another length than the last one's.
	b := mustSetup(t, m, "pod-b-with-a-longer-key")
	if !b.IP.Equal(a.IP) || m.reused.Load() == 0 {
		t.Fatalf("pod-b got %s, want the parked %s", b.IP, a.IP)
	}
	if !nsMounted(b.NetNS) {
		t.Fatal("pod-b's namespace is not mounted")
	}
	if _, err := os.Stat(m.sparePath(a.IP)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("spare file left after reuse (%v)", err)
	}
	data, err := os.ReadFile(filepath.Join(addressDir(dir), ip))
	if err != nil || string(data) != "pod-b-with-a-longer-key\n" {
		t.Fatalf("record of %s = %q, %v; want pod-b's key", ip, data, err)
	}
	mustPark(t, m, "pod-b-with-a-longer-key")
	c := mustSetup(t, m, "pod-c")
	data, err = os.ReadFile(filepath.Join(addressDir(dir), c.IP.String()))
	if err != nil || string(data) != "pod-c\n" {
		t.Fatalf("record of %s = %q, %v; want pod-c", c.IP, data, err)
	}
	mustPark(t, m, "pod-c")

	closed = true
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.nsDir); !errors.Is(err, os.ErrNotExist) {
		entries, _ := os.ReadDir(m.nsDir)
		t.Fatalf("namespace directory left after Close: %v", entries)
	}
	aside, err := os.ReadDir(addressDir(dir) + "-parked")
	if err != nil && !errors.Is(err, os.ErrNotExist) || len(aside) != 0 {
		t.Fatalf("parked address records left after Close: %v, %v", aside, err)
	}
}

// TestFullCIDRDoesNotWarnWhenBuildingAhead: a node whose CIDR is full
// builds no namespace ahead, and says nothing of it: finished pods'
// addresses are reclaimed when a pod needs one.
func TestFullCIDRDoesNotWarnWhenBuildingAhead(t *testing.T) {
	requireRoot(t)
	var logs testutil.SyncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	t.Cleanup(func() { slog.SetDefault(prev) })

	m := newTestManagerWith(t, Config{CIDR: "10.244.213.0/29", PoolWarm: 2})
	// A /29 has 5 addresses for pods, some taken by the warm ones, which
	// pods take in turn. One built ahead while the last pod found the
	// CIDR full is taken by the next pod.
	pods := 0
	fill := func() {
		for ; ; pods++ {
			_, err := m.Setup(fmt.Sprintf("pod-%d", pods))
			if errors.Is(err, ErrExhausted) {
				return
			}
			if err != nil || pods == 10 {
				t.Fatalf("Setup of pod %d: %v, want the CIDR full after 5", pods, err)
			}
		}
	}
	fill()
	waitFor(t, "building ahead to stop", func() bool { return !m.warming.Load() })
	fill()
	waitFor(t, "building ahead to stop", func() bool { return !m.warming.Load() })
	m.prewarm()
	if m.Parked() != 0 {
		t.Fatalf("Parked() = %d with the CIDR full", m.Parked())
	}
	if strings.Contains(logs.String(), "building a pod network ahead") {
		t.Fatalf("a full CIDR was warned about:\n%s", logs.String())
	}
}

func TestPoolIsCappedAndEmptiesWhenIdle(t *testing.T) {
	requireRoot(t)
	clk := clocktesting.NewFakeClock(time.Now())
	dir := t.TempDir()
	m, err := New(Config{StateDir: dir, PoolSize: 2, PoolIdle: 30 * time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	var pods []*Pod
	for i := 0; i < 3; i++ {
		pods = append(pods, mustSetup(t, m, fmt.Sprintf("pod-%d", i)))
	}
	mustPark(t, m, "pod-0")
	clk.Step(20 * time.Second)
	mustPark(t, m, "pod-1")
	mustPark(t, m, "pod-2")
	if m.Parked() != 2 {
		t.Fatalf("Parked() = %d, want the cap of 2", m.Parked())
	}
	if _, ok := m.Lookup("pod-2"); ok || nsMounted(pods[2].NetNS) {
		t.Fatal("the namespace beyond the cap was kept")
	}
	for _, p := range pods[:2] {
		if _, ok := m.ipam.lookup(parkedKey(p.IP)); !ok {
			t.Fatalf("parked address %s not held", p.IP)
		}
	}

	// pod-0 idled 30 s: it goes, pod-1 stays for another 20 s.
	clk.Step(10 * time.Second)
	waitFor(t, "the first parked namespace to expire", func() bool { return m.Parked() == 1 })
	vethGone(t, pods[0].HostVeth)
	if _, err := netlink.LinkByName(pods[1].HostVeth); err != nil {
		t.Fatalf("the younger parked namespace lost its veth: %v", err)
	}
	clk.Step(20 * time.Second)
	waitFor(t, "the pool to empty", func() bool { return m.Parked() == 0 })
	vethGone(t, pods[1].HostVeth)
	waitFor(t, "the parked files to go", func() bool { return len(parkedFiles(t, m)) == 0 })
	if _, ok := m.ipam.lookup(parkedKey(pods[1].IP)); ok {
		t.Fatalf("address %s still held on an idle node", pods[1].IP)
	}
}

func TestCloseAndRestartLeaveNoParkedNamespace(t *testing.T) {
	requireRoot(t)
	check := func(t *testing.T, m *Manager, dir string, pods []*Pod) {
		t.Helper()
		for _, p := range pods {
			vethGone(t, p.HostVeth)
		}
		if files := parkedFiles(t, m); len(files) != 0 {
			t.Errorf("parked files %v left", files)
		}
		if recs := addressRecords(t, dir); len(recs) != 0 {
			t.Errorf("address records %v left", recs)
		}
		mounts, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(mounts), filepath.Join(m.nsDir, parkedPrefix)) {
			t.Errorf("parked namespaces still mounted")
		}
	}
	park := func(t *testing.T, m *Manager) []*Pod {
		var pods []*Pod
		for _, k := range []string{"x", "y"} {
			pods = append(pods, mustSetup(t, m, k))
		}
		for _, k := range []string{"x", "y"} {
			mustPark(t, m, k)
		}
		if m.Parked() != 2 {
			t.Fatalf("Parked() = %d, want 2", m.Parked())
		}
		return pods
	}
	t.Run("close", func(t *testing.T) {
		dir := t.TempDir()
		m, err := New(Config{StateDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		pods := park(t, m)
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		check(t, m, dir, pods)
	})
	t.Run("restart", func(t *testing.T) {
		dir := t.TempDir()
		m, err := New(Config{StateDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		pods := park(t, m)
		m.closeHandles() // the agent dies with namespaces parked
		m2, err := New(Config{StateDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m2.Close() })
		if m2.Parked() != 0 || len(m2.Keys()) != 0 {
			t.Fatalf("after restart Parked() = %d, Keys() = %v", m2.Parked(), m2.Keys())
		}
		check(t, m2, dir, pods)
	})
}

// TestConcurrentSetupAndTeardownOfOneKey: the agent's teardown of a pod
// and its periodic sweep may run at once; neither fails and nothing is
// left.
func TestConcurrentSetupAndTeardownOfOneKey(t *testing.T) {
	requireRoot(t)
	m := newTestManager(t)
	for round := 0; round < 5; round++ {
		p := mustSetup(t, m, "racy")
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if i%2 == 0 {
					errs <- m.Teardown("racy")
				} else {
					errs <- m.Park("racy")
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent teardown: %v", err)
			}
		}
		if _, ok := m.Lookup("racy"); ok {
			t.Fatal("racy still has a network")
		}
		if _, err := os.Stat(p.NetNS); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("namespace file left (%v)", err)
		}
	}
	// Set-up racing teardown ends in one state or the other, whole.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i%2 == 0 {
				_, _ = m.Setup("racy")
			} else {
				_ = m.Park("racy")
			}
		}(i)
	}
	wg.Wait()
	if p, ok := m.Lookup("racy"); ok {
		if !nsMounted(p.NetNS) {
			t.Fatal("racy holds an address without a namespace")
		}
		if err := m.checkPristine(p); err != nil {
			t.Fatalf("racy's namespace is not whole: %v", err)
		}
	}
}

// TestWarmNamespacesAreBuiltAheadAndKept: a node keeps PoolWarm
// namespaces ready before any pod finishes, hands them to new pods,
// builds more in the background, keeps them however long they idle, and
// leaves none behind on Close.
func TestWarmNamespacesAreBuiltAheadAndKept(t *testing.T) {
	requireRoot(t)
	clk := clocktesting.NewFakeClock(time.Now())
	dir := t.TempDir()
	m, err := New(Config{StateDir: dir, PoolSize: 4, PoolWarm: 2, PoolIdle: 30 * time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = m.Close()
		}
	})
	waitFor(t, "two namespaces built ahead", func() bool { return m.Parked() == 2 })
	if recs := addressRecords(t, dir); len(recs) != 0 {
		t.Fatalf("namespaces built ahead left address records: %v", recs)
	}
	if keys := m.Keys(); len(keys) != 0 {
		t.Fatalf("Keys() lists namespaces built ahead: %v", keys)
	}
	ahead := map[uint64]bool{}
	for _, f := range parkedFiles(t, m) {
		ahead[nsInode(t, filepath.Join(m.nsDir, f))] = true
	}
	p := mustSetup(t, m, "pod-a")
	if m.reused.Load() != 1 || !ahead[nsInode(t, p.NetNS)] {
		t.Fatalf("the first pod did not get a namespace built ahead (reused %d)", m.reused.Load())
	}
	if err := inNamespace(t, p.NetNS, func() error {
		link, err := netlink.LinkByName(podInterface)
		if err != nil {
			return err
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		if len(addrs) != 1 || !addrs[0].IP.Equal(p.IP) {
			return fmt.Errorf("eth0 addresses %v, want %s", addrs, p.IP)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if recs := addressRecords(t, dir); recs[p.IP.String()] != "pod-a" {
		t.Fatalf("address records %v, want %s held by pod-a", recs, p.IP)
	}
	waitFor(t, "the warm namespaces made up", func() bool { return m.Parked() == 2 })

	// Idle far beyond PoolIdle: the warm ones stay.
	clk.Step(time.Hour)
	m.expireParked()
	if m.Parked() != 2 {
		t.Fatalf("Parked() = %d after idling, want the 2 kept warm", m.Parked())
	}
	var veths []string
	for _, f := range parkedFiles(t, m) {
		veths = append(veths, vethName(m.Bridge(), net.ParseIP(strings.TrimPrefix(f, parkedPrefix))))
	}
	closed = true
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for _, v := range veths {
		vethGone(t, v)
	}
	if files := parkedFiles(t, m); len(files) != 0 {
		t.Fatalf("parked namespaces left after Close: %v", files)
	}
}

// TestTrustedParkChecksOnlyTheHostEnd: ParkUnchanged takes the inside of
// the namespace on trust, so a namespace changed inside (which a pod
// without CAP_NET_ADMIN cannot do) is parked, but one whose host end left
// the bridge is not.
func TestTrustedParkChecksOnlyTheHostEnd(t *testing.T) {
	requireRoot(t)
	m := newTestManager(t)
	inside := mustSetup(t, m, "changed-inside")
	err := inNamespace(t, inside.NetNS, func() error {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		defer h.Close()
		return h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "extra0"}, PeerName: "extra1"})
	})
	if err != nil {
		t.Fatalf("changing the namespace: %v", err)
	}
	if err := m.ParkUnchanged("changed-inside"); err != nil {
		t.Fatal(err)
	}
	if m.Parked() != 1 {
		t.Fatalf("%d parked, want the namespace taken on trust", m.Parked())
	}

	hostEnd := mustSetup(t, m, "host-end-down")
	if !hostEnd.IP.Equal(inside.IP) {
		t.Fatal("the parked namespace was not reused for the next pod")
	}
	veth, err := netlink.LinkByName(hostEnd.HostVeth)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetDown(veth); err != nil {
		t.Fatal(err)
	}
	if err := m.ParkUnchanged("host-end-down"); err != nil {
		t.Fatal(err)
	}
	if m.Parked() != 0 || len(parkedFiles(t, m)) != 0 {
		t.Fatal("a namespace whose host end is down was parked")
	}
	vethGone(t, hostEnd.HostVeth)
}
