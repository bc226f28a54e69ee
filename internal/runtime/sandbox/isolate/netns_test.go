package isolate

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// newNetns makes a network namespace bind-mounted at a file, as the pod
// network does, and returns the file and the namespace's inode.
func newNetns(t *testing.T) (string, uint64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "netns")
	if err := os.WriteFile(path, nil, 0o400); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		// The thread ends with the goroutine, still in the new namespace.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		self := "/proc/self/task/" + strconv.Itoa(unix.Gettid()) + "/ns/net"
		errc <- unix.Mount(self, path, "", unix.MS_BIND, "")
	}()
	if err := <-errc; err != nil {
		t.Fatalf("creating a network namespace: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(path, unix.MNT_DETACH) })
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return path, st.Ino
}

// TestContainerJoinsThePodNetworkNamespace checks both ways of starting
// the init step: the fork server's mount namespace may predate the
// namespace file, so the child must get the namespace from its parent.
func TestContainerJoinsThePodNetworkNamespace(t *testing.T) {
	requireNamespaces(t)
	path, ino := newNetns(t)
	want := fmt.Sprintf("net:[%d]", ino)
	script := "readlink /proc/self/ns/net; cat /proc/net/dev | grep -c :"
	for _, forked := range []bool{false, true} {
		if forked && useGoInit {
			continue
		}
		sp := Spec{Namespaces: true, NetNS: path}
		var out string
		if forked {
			o, ws, err := runForked(t, startForkServer(t), sp, script)
			if err != nil || ws.ExitStatus() != 0 {
				t.Fatalf("forked: %v, exit %d, output %q", err, ws.ExitStatus(), o)
			}
			out = o
		} else {
			o, code := run(t, sp, script)
			if code != 0 {
				t.Fatalf("wrapped: exit %d, output %q", code, o)
			}
			out = o
		}
		lines := strings.Fields(out)
		// A fresh namespace has the loopback only.
		if len(lines) != 2 || lines[0] != want || lines[1] != "1" {
			t.Errorf("forked=%v: output %q, want %s and one interface", forked, out, want)
		}
	}
}

func TestNetnsNeedsNamespacesAndANamespaceFile(t *testing.T) {
	if err := Validate(Spec{NetNS: "/x"}); err == nil {
		t.Error("a network namespace without namespaces was accepted")
	}
	requireNamespaces(t)
	notNs := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(notNs, nil, 0o400); err != nil {
		t.Fatal(err)
	}
	cmdErr := func() error {
		_, err := openNetns(notNs)
		return err
	}()
	if cmdErr == nil {
		t.Error("a plain file was accepted as a network namespace")
	}
}
