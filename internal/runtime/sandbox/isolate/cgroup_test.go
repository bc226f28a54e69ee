package isolate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testCgroup makes an empty cgroup (pids hierarchy of cgroup v1, else
// the v2 root) and returns its cgroup.procs file.
func testCgroup(t *testing.T) (procs, name string) {
	t.Helper()
	name = fmt.Sprintf("batchlet-isolate-test-%d", os.Getpid())
	for _, root := range []string{"/sys/fs/cgroup/pids", "/sys/fs/cgroup"} {
		if _, err := os.Stat(filepath.Join(root, "cgroup.procs")); err != nil {
			continue
		}
		dir := filepath.Join(root, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Skipf("cannot make a cgroup: %v", err)
		}
		t.Cleanup(func() { _ = os.Remove(dir) })
		return filepath.Join(dir, "cgroup.procs"), name
	}
	t.Skip("no writable cgroup hierarchy")
	return "", ""
}

func TestContainerJoinsItsCgroup(t *testing.T) {
	requireNamespaces(t)
	procs, name := testCgroup(t)
	out, code := run(t, Spec{Namespaces: true, CgroupProcs: []string{procs}}, "cat /proc/self/cgroup")
	if code != 0 || !strings.Contains(out, ":/"+name+"\n") {
		t.Fatalf("exit %d, cgroups %q: want a member of %s", code, out, name)
	}
}
