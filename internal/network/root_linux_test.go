//go:build linux

package network

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/batchlet/batchlet/internal/fsutil"
)

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("pod network namespaces need root")
	}
}

// newTestManager makes a node's network in a fresh state directory; the
// bridge goes with the test.
func newTestManager(t testing.TB) *Manager {
	t.Helper()
	return newTestManagerWith(t, Config{})
}

// newTestManagerWith is newTestManager with cfg (StateDir, when empty, a
// fresh directory).
func newTestManagerWith(t testing.TB, cfg Config) *Manager {
	t.Helper()
	if cfg.StateDir == "" {
		cfg.StateDir = t.TempDir()
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tearDownAtEnd(t, m)
	return m
}

// tearDownAtEnd removes every pod network of m, and m's own, when the
// test ends.
func tearDownAtEnd(t testing.TB, m *Manager) {
	t.Cleanup(func() {
		for _, k := range m.Keys() {
			_ = m.Teardown(k)
		}
		_ = m.Close()
	})
}

// inNamespace runs fn on a thread inside the namespace at path; sockets
// fn opens stay in that namespace.
func inNamespace(t testing.TB, path string, fn func() error) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		ns, err := netns.GetFromPath(path)
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			errc <- errors.Join(ferr, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// serveName listens on port inside p's namespace and answers each
// connection with name.
func serveName(t *testing.T, p *Pod, port int, name string) {
	t.Helper()
	var ln net.Listener
	err := inNamespace(t, p.NetNS, func() error {
		var err error
		ln, err = net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", port))
		return err
	})
	if err != nil {
		t.Fatalf("listening in %s: %v", p.Key, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, name+"\n")
			c.Close()
		}
	}()
}

// fetch connects to addr from inside the namespace at nsPath ("" for the
// host) and returns the first line it reads.
func fetch(t *testing.T, nsPath, addr string) (string, error) {
	t.Helper()
	var conn net.Conn
	dial := func() error {
		var err error
		conn, err = net.DialTimeout("tcp", addr, 5*time.Second)
		return err
	}
	var err error
	if nsPath == "" {
		err = dial()
	} else {
		err = inNamespace(t, nsPath, dial)
	}
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line), err
}

func TestPodsListenOnTheSamePortAndReachEachOther(t *testing.T) {
	requireRoot(t)
	m := newTestManager(t)
	a := mustSetup(t, m, "pod-a")
	b := mustSetup(t, m, "pod-b")
	if a.IP.Equal(b.IP) || !m.CIDR().Contains(a.IP) || !m.CIDR().Contains(b.IP) {
		t.Fatalf("addresses %s and %s, want two distinct ones in %s", a.IP, b.IP, m.CIDR())
	}
	serveName(t, a, 8080, "a")
	serveName(t, b, 8080, "b")
	cases := []struct{ from, to, want string }{
		{a.NetNS, b.IP.String(), "b"},
		{b.NetNS, a.IP.String(), "a"},
		{a.NetNS, "127.0.0.1", "a"},
		{"", a.IP.String(), "a"},
	}
	for _, c := range cases {
		got, err := fetch(t, c.from, net.JoinHostPort(c.to, "8080"))
		if err != nil || got != c.want {
			t.Errorf("fetch %s from %q = %q, %v; want %q", c.to, c.from, got, err, c.want)
		}
	}
	// The host, at the gateway address, is reachable from a pod.
	hostLn, err := net.Listen("tcp", net.JoinHostPort(m.Gateway().String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer hostLn.Close()
	go func() {
		if c, err := hostLn.Accept(); err == nil {
			_, _ = io.WriteString(c, "host\n")
			c.Close()
		}
	}()
	if got, err := fetch(t, a.NetNS, hostLn.Addr().String()); err != nil || got != "host" {
		t.Errorf("pod to host = %q, %v", got, err)
	}
}

func TestTeardownLeavesNothingBehind(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	m, err := New(Config{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	bridge := m.Bridge()
	owner, err := Config{StateDir: dir}.owner()
	if err != nil {
		t.Fatal(err)
	}
	if !natTableExists(t, bridge) {
		t.Fatalf("no masquerade table for %s after New", bridge)
	}
	var pods []*Pod
	for _, k := range []string{"x", "y"} {
		p, err := m.Setup(k)
		if err != nil {
			t.Fatal(err)
		}
		pods = append(pods, p)
	}
	for _, p := range pods {
		if err := m.Teardown(p.Key); err != nil {
			t.Fatal(err)
		}
		// The kernel removes the veth with the namespace, in the
		// background.
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := netlink.LinkByName(p.HostVeth); err != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("veth %s left after teardown", p.HostVeth)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := os.Stat(p.NetNS); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace file %s left after teardown (%v)", p.NetNS, err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// Another node on this host may take the freed name at once: only a
	// bridge that still names this node as its owner is a leftover.
	switch l, err := netlink.LinkByName(bridge); {
	case err == nil && l.Attrs().Alias == owner:
		t.Errorf("bridge %s left after the last pod and Close", bridge)
	case err != nil && natTableExists(t, bridge):
		t.Errorf("masquerade table of %s left after the last pod and Close", bridge)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if nsDir := NamespaceDir(dir); strings.Contains(string(mounts), nsDir) {
		t.Errorf("mounts under %s left:\n%s", nsDir, mounts)
	} else if _, err := os.Stat(nsDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace directory %s left after Close (%v)", nsDir, err)
	}
}

func TestRestartKeepsRunningPodsNetwork(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	m, err := New(Config{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	p := mustSetup(t, m, "pod-r")
	serveName(t, p, 9000, "r")
	m.closeHandles() // the agent goes away; the bridge and the pod stay

	m2, err := New(Config{StateDir: dir})
	if err != nil {
		t.Fatalf("New after restart: %v", err)
	}
	t.Cleanup(func() {
		_ = m2.Teardown("pod-r")
		_ = m2.Close()
	})
	if !m2.CIDR().IP.Equal(m.CIDR().IP) || m2.Bridge() != m.Bridge() {
		t.Fatalf("after restart %s on %s, want %s on %s", m2.CIDR(), m2.Bridge(), m.CIDR(), m.Bridge())
	}
	q := mustSetup(t, m2, "pod-r")
	if !q.IP.Equal(p.IP) {
		t.Fatalf("after restart pod-r has %s, want %s", q.IP, p.IP)
	}
	// The very listener made before the restart still answers: the
	// namespace was kept, not rebuilt.
	if got, err := fetch(t, "", net.JoinHostPort(q.IP.String(), "9000")); err != nil || got != "r" {
		t.Fatalf("after restart fetch = %q, %v", got, err)
	}
}

// TestRestartMovesAnEarlierAgentsAddressRecords: records an earlier agent
// kept in the state directory are moved beside the namespaces, in memory,
// and a pod running over the upgrade keeps its address and namespace.
func TestRestartMovesAnEarlierAgentsAddressRecords(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	m, err := New(Config{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	p := mustSetup(t, m, "pod-u")
	m.closeHandles()
	// The earlier agent's layout: its records, and one kept aside for a
	// parked address, under the state directory.
	legacy := filepath.Join(dir, legacyAddressDir)
	for _, d := range []string{legacy, legacy + "-parked"} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(legacy, p.IP.String()), []byte("pod-u\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(addressDir(dir)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(legacy+"-parked", nthIP(m.CIDR(), 9).String()), []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	before := nsInode(t, p.NetNS)

	m2, err := New(Config{StateDir: dir})
	if err != nil {
		t.Fatalf("New after the upgrade: %v", err)
	}
	t.Cleanup(func() {
		_ = m2.Teardown("pod-u")
		_ = m2.Close()
	})
	q := mustSetup(t, m2, "pod-u")
	if !q.IP.Equal(p.IP) || nsInode(t, q.NetNS) != before {
		t.Fatalf("after the upgrade pod-u has %s in namespace %d, want %s in %d", q.IP, nsInode(t, q.NetNS), p.IP, before)
	}
	if recs := addressRecords(t, dir); len(recs) != 1 || recs[p.IP.String()] != "pod-u" {
		t.Fatalf("address records %v, want pod-u's", recs)
	}
	for _, d := range []string{legacy, legacy + "-parked"} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after the move (%v)", d, err)
		}
	}
	if fsutil.InMemory(m2.nsDir) && !fsutil.InMemory(addressDir(dir)) {
		t.Error("address records on disk")
	}
}

func TestTwoNodesOnOneHostGetDistinctNetworksAndRouteBetweenThem(t *testing.T) {
	requireRoot(t)
	m1 := newTestManager(t)
	m2 := newTestManager(t)
	if m1.Bridge() == m2.Bridge() || overlaps(m1.CIDR(), m2.CIDR()) {
		t.Fatalf("nodes share %s/%s and %s/%s", m1.Bridge(), m1.CIDR(), m2.Bridge(), m2.CIDR())
	}
	// An explicit CIDR held by another node is refused.
	if _, err := New(Config{StateDir: t.TempDir(), CIDR: m1.CIDR().String()}); !errors.Is(err, ErrInUse) {
		t.Fatalf("New with a CIDR in use: err = %v, want ErrInUse", err)
	}
	a := mustSetup(t, m1, "a")
	b := mustSetup(t, m2, "b")
	serveName(t, b, 7000, "b")
	if got, err := fetch(t, a.NetNS, net.JoinHostPort(b.IP.String(), "7000")); err != nil || got != "b" {
		t.Fatalf("pod on node 1 to pod on node 2 = %q, %v", got, err)
	}
}

func TestStaleNodesAreSweptAtStart(t *testing.T) {
	requireRoot(t)
	gone := t.TempDir()
	m, err := New(Config{StateDir: gone})
	if err != nil {
		t.Fatal(err)
	}
	p := mustSetup(t, m, "left-running")
	bridge := m.Bridge()
	m.closeHandles() // stopped with a pod running...
	if err := os.RemoveAll(gone); err != nil {
		t.Fatalf("the stopped node's state dir cannot be removed: %v", err)
	}
	// ...and its state dir removed: the next node cleans up after it.
	newTestManager(t)
	if _, err := netlink.LinkByName(p.HostVeth); err == nil {
		t.Errorf("veth %s of a stale node left", p.HostVeth)
	}
	if _, err := netlink.LinkByName(bridge); err == nil && bridge != "" {
		if l, _ := netlink.LinkByName(bridge); l != nil && l.Attrs().Alias == ownerPrefix+gone {
			t.Errorf("stale bridge %s left", bridge)
		}
	}
	if nsMounted(p.NetNS) {
		t.Errorf("namespace %s of a stale node still mounted", p.NetNS)
	}
	if nsDir := NamespaceDir(gone); mountedUnder(t, nsDir) {
		t.Errorf("namespace directory %s of a stale node still mounted", nsDir)
	} else if _, err := os.Stat(nsDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace directory %s of a stale node left (%v)", nsDir, err)
	}
}

// TestAutomaticPickAvoidsOtherNodesCIDRs: CIDRs the cluster's other nodes
// hold (possibly on other machines, so invisible here) are never picked.
func TestAutomaticPickAvoidsOtherNodesCIDRs(t *testing.T) {
	requireRoot(t)
	taken := []string{autoCIDR(0).String(), autoCIDR(1).String(), autoCIDR(2).String()}
	m, err := New(Config{StateDir: t.TempDir(), Taken: taken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	for _, c := range taken {
		if m.CIDR().String() == c {
			t.Fatalf("picked %s, which another node holds (taken: %v)", c, taken)
		}
	}
}

// natTableExists reports whether the host has the masquerade table of the
// node with bridge.
func natTableExists(t *testing.T, bridge string) bool {
	t.Helper()
	conn, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if tb.Name == natTableName(bridge) {
			return true
		}
	}
	return false
}

// mustSetup sets up the network of the pod called key on m.
func mustSetup(t *testing.T, m *Manager, key string) *Pod {
	t.Helper()
	p, err := m.Setup(key)
	if err != nil {
		t.Fatalf("setting up %s: %v", key, err)
	}
	return p
}
