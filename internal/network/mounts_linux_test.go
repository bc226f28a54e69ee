//go:build linux

package network

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/batchlet/batchlet/internal/fsutil"
)

// mountedUnder reports whether anything is mounted at a path starting
// with prefix.
func mountedUnder(t *testing.T, prefix string) bool {
	t.Helper()
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(mounts), prefix)
}

// TestReusedNamespaceTornDownLeavesNothing: a namespace a pod took from
// the pool stays mounted at its parked path while the pod runs; parking
// it again leaves it mounted there alone, and destroying it unmounts
// both paths, so the kernel removes it and its pair.
func TestReusedNamespaceTornDownLeavesNothing(t *testing.T) {
	requireRoot(t)
	m := newTestManager(t)
	a := mustSetup(t, m, "pod-a")
	ino := nsInode(t, a.NetNS)
	mustPark(t, m, "pod-a")

	b := mustSetup(t, m, "pod-b")
	parked := m.parkedPath(b.IP)
	if !b.IP.Equal(a.IP) || nsInode(t, b.NetNS) != ino || nsInode(t, parked) != ino {
		t.Fatalf("pod-b has %s in inode %d (parked path %d), want the parked %s in %d",
			b.IP, nsInode(t, b.NetNS), nsInode(t, parked), a.IP, ino)
	}
	if !m.sharesParkedMount(b.IP) {
		t.Fatal("the reused namespace is not recorded as mounted at its parked path")
	}

	// Parked again, then taken by a third pod: the same namespace.
	mustPark(t, m, "pod-b")
	if m.sharesParkedMount(b.IP) || nsMounted(b.NetNS) || !nsMounted(parked) || m.Parked() != 1 {
		t.Fatalf("after parking again: shared %v, pod-b mounted %v, parked mounted %v, %d parked",
			m.sharesParkedMount(b.IP), nsMounted(b.NetNS), nsMounted(parked), m.Parked())
	}
	c := mustSetup(t, m, "pod-c")
	if nsInode(t, c.NetNS) != ino {
		t.Fatalf("pod-c's namespace is inode %d, want %d", nsInode(t, c.NetNS), ino)
	}

	if err := m.Teardown("pod-c"); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{c.NetNS, parked, m.sparePath(c.IP)} {
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after teardown (%v)", path, err)
		}
	}
	if mountedUnder(t, m.nsDir+"/") {
		t.Error("namespaces still mounted after the last pod's teardown")
	}
	if m.sharesParkedMount(c.IP) {
		t.Error("the torn down namespace is still recorded as mounted at its parked path")
	}
	vethGone(t, c.HostVeth)
}

// TestRestartDropsTheParkedMountOfAReusedNamespace: after a restart a
// pod running in a namespace taken from the pool keeps it, though the
// start unmounts every parked path, and its teardown leaves nothing.
func TestRestartDropsTheParkedMountOfAReusedNamespace(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	m, err := New(Config{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	mustSetup(t, m, "pod-a")
	mustPark(t, m, "pod-a")
	b := mustSetup(t, m, "pod-b")
	ino := nsInode(t, b.NetNS)
	m.closeHandles() // the agent dies with pod-b running

	m2 := newTestManagerWith(t, Config{StateDir: dir})
	if nsMounted(m2.parkedPath(b.IP)) {
		t.Fatal("the parked path of pod-b's namespace is still mounted after a restart")
	}
	again := mustSetup(t, m2, "pod-b")
	if nsInode(t, again.NetNS) != ino {
		t.Fatalf("after restart pod-b has inode %d, want %d", nsInode(t, again.NetNS), ino)
	}
	if err := m2.Teardown("pod-b"); err != nil {
		t.Fatal(err)
	}
	if mountedUnder(t, m2.nsDir+"/") {
		t.Error("namespaces still mounted after teardown")
	}
	vethGone(t, b.HostVeth)
}

// TestHostEndTamperedNamespaceIsNotReused: a namespace whose host end
// left the bridge or went down is not parked.
func TestHostEndTamperedNamespaceIsNotReused(t *testing.T) {
	requireRoot(t)
	m := newTestManager(t)
	for name, tamper := range map[string]func(netlink.Link) error{
		"detached": netlink.LinkSetNoMaster,
		"down":     netlink.LinkSetDown,
	} {
		t.Run(name, func(t *testing.T) {
			p := mustSetup(t, m, "host-end-"+name)
			host, err := netlink.LinkByName(p.HostVeth)
			if err != nil {
				t.Fatal(err)
			}
			if err := tamper(host); err != nil {
				t.Fatal(err)
			}
			err = m.checkPristine(p)
			if err == nil {
				t.Fatal("checkPristine found nothing wrong")
			}
			t.Logf("refused: %v", err)
			mustPark(t, m, p.Key)
			if m.Parked() != 0 {
				t.Fatal("a namespace with a tampered host end was parked")
			}
		})
	}
}

// TestCheckPristineRefusesAnUnmountedNamespace: a pod's namespace file
// that holds no namespace fails the check.
func TestCheckPristineRefusesAnUnmountedNamespace(t *testing.T) {
	requireRoot(t)
	m := newTestManager(t)
	p := mustSetup(t, m, "unmounted")
	if err := unmountOnly(p.NetNS); err != nil {
		t.Fatal(err)
	}
	if err := m.checkPristine(p); err == nil {
		t.Fatal("checkPristine passed a file that holds no namespace")
	}
}

// TestNamespaceMountHelpers: unmountOnly removes stacked mounts and
// leaves other files alone; bindNamespace mounts over a file that is
// there already and removes only a file it made when the mount fails.
func TestNamespaceMountHelpers(t *testing.T) {
	requireRoot(t)
	m := newTestManager(t)
	p := mustSetup(t, m, "helpers")
	dir := t.TempDir()

	stacked := filepath.Join(dir, "stacked")
	if err := touch(stacked); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := unix.Mount(p.NetNS, stacked, "", unix.MS_BIND, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := unmountOnly(stacked); err != nil || nsMounted(stacked) {
		t.Fatalf("unmountOnly of a path mounted twice: %v, still mounted %v", err, nsMounted(stacked))
	}
	if _, err := os.Stat(stacked); err != nil {
		t.Fatalf("unmountOnly removed the file: %v", err)
	}
	if err := unmountOnly(filepath.Join(dir, "missing")); err != nil {
		t.Fatalf("unmountOnly of a missing file: %v", err)
	}

	// stacked is an empty file now: bindNamespace mounts over it.
	if err := bindNamespace(p.NetNS, stacked, filepath.Join(dir, "no-spare")); err != nil {
		t.Fatal(err)
	}
	if nsInode(t, stacked) != nsInode(t, p.NetNS) {
		t.Fatal("bindNamespace over an existing file mounted something else")
	}
	if err := unmountOnly(stacked); err != nil {
		t.Fatal(err)
	}

	spare := filepath.Join(dir, "spare")
	if err := touch(spare); err != nil {
		t.Fatal(err)
	}
	made := filepath.Join(dir, "made")
	if err := bindNamespace(filepath.Join(dir, "no-namespace"), made, spare); err == nil {
		t.Fatal("bindNamespace of a missing namespace succeeded")
	}
	if _, err := os.Stat(made); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the file bindNamespace made is left after it failed (%v)", err)
	}
	if err := bindNamespace(filepath.Join(dir, "no-namespace"), stacked, spare); err == nil {
		t.Fatal("bindNamespace of a missing namespace succeeded")
	}
	if _, err := os.Stat(stacked); err != nil {
		t.Fatalf("bindNamespace removed a file it did not make: %v", err)
	}
}

// TestNamespaceDirGetsATmpfsWhenNew: a node's new namespace directory is
// in memory, whether /run is or not; Close takes the tmpfs along. One
// that already holds files is not mounted over.
func TestNamespaceDirGetsATmpfsWhenNew(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	m, err := New(Config{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !fsutil.InMemory(m.nsDir) {
		t.Error("the namespace directory of a new node is on disk")
	}
	mustSetup(t, m, "pod")
	if err := m.Teardown("pod"); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if mountedUnder(t, m.nsDir) {
		t.Error("the namespace directory is still mounted after Close")
	}
	if _, err := os.Stat(m.nsDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the namespace directory is left after Close (%v)", err)
	}

	if fsutil.InMemory(RunDir) {
		return // nothing to tell apart where /run is a tmpfs
	}
	busy := t.TempDir()
	nsDir := NamespaceDir(busy)
	if err := os.MkdirAll(nsDir, 0o750); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = removeNamespaceDir(nsDir) })
	if err := touch(filepath.Join(nsDir, "running-pod")); err != nil {
		t.Fatal(err)
	}
	if err := makeNamespaceDir(nsDir, "test"); err != nil {
		t.Fatal(err)
	}
	if fsutil.InMemory(nsDir) {
		t.Error("a tmpfs was mounted over a namespace directory holding files")
	}
	if _, err := os.Stat(filepath.Join(nsDir, "running-pod")); err != nil {
		t.Errorf("a file in the namespace directory is hidden: %v", err)
	}
}
