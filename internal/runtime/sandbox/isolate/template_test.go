package isolate

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// mountNamespaceFile bind-mounts this process's network namespace on a
// new file in dir, as a node keeps its pods' namespaces, and unmounts it
// at the end.
func mountNamespaceFile(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "netns")
	if err := os.WriteFile(p, nil, 0o400); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("/proc/self/ns/net", p, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(p, unix.MNT_DETACH) })
	return p
}

// mountTmpfs mounts a tmpfs on a new directory in dir and returns the
// directory and its unmount.
func mountTmpfs(t *testing.T, dir, name string) (string, func()) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", p, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	unmount := func() { _ = unix.Unmount(p, unix.MNT_DETACH) }
	t.Cleanup(unmount)
	return p, unmount
}

// mountPoints lists the mount points, with their file system types, that
// a container sees under dir.
func mountPoints(t *testing.T, f *ForkServer, sp Spec, dir string) string {
	t.Helper()
	out, ws, err := runForked(t, f, sp, `awk -v dir="`+dir+`" 'index($5, dir) == 1 { for (i = 7; $i != "-"; i++) {}; print $5, $(i+1) }' /proc/self/mountinfo`)
	if err != nil || ws.ExitStatus() != 0 {
		t.Fatalf("listing mounts: exit %d, %v: %s", ws.ExitStatus(), err, out)
	}
	return out
}

// Containers are cloned from a copy of the host's mount namespace that
// leaves out namespace files and shows every other mount the host has at
// the container's start, those made after the fork server started too.
func TestForkServerTemplateLeavesOutNamespaceFilesOnly(t *testing.T) {
	forEachDigest(t, testTemplateLeavesOutNamespaceFilesOnly)
}

// forEachDigest runs test with each way the fork server looks at the
// host's mounts: listmount and statmount where the kernel has them, and
// mountinfo.
func forEachDigest(t *testing.T, test func(*testing.T)) {
	requireNamespaces(t)
	t.Run("listmount", test)
	t.Run("mountinfo", func(t *testing.T) {
		forkServerEnv = []string{"NSINIT_TEMPLATE_MOUNTINFO=1"}
		t.Cleanup(func() { forkServerEnv = nil })
		test(t)
	})
}

func testTemplateLeavesOutNamespaceFilesOnly(t *testing.T) {
	dir, _ := mountTmpfs(t, t.TempDir(), "node")
	nsFile := mountNamespaceFile(t, dir)
	f := startForkServer(t)
	sp := Spec{Namespaces: true, ScratchDir: scratch(t)}

	if got, want := mountPoints(t, f, sp, dir), dir+" tmpfs\n"; got != want {
		t.Fatalf("container sees mounts %q under %s, want %q (no namespace file)", got, dir, want)
	}
	hostNS, _ := os.Readlink("/proc/self/ns/mnt")
	serverNS, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(f.Pid()), "ns/mnt"))
	if serverNS == hostNS {
		t.Errorf("fork server in the host's mount namespace %s, want a template of its own", hostNS)
	}

	later, unmount := mountTmpfs(t, dir, "later")
	if got, want := mountPoints(t, f, sp, dir), dir+" tmpfs\n"+later+" tmpfs\n"; got != want {
		t.Fatalf("after a host mount: container sees %q, want %q", got, want)
	}
	// A mount replaced by an equal one at the same place is another
	// file system.
	if err := unix.Unmount(later, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", later, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(later, "mark"), []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _, err := runForked(t, f, sp, "cat "+filepath.Join(later, "mark")); err != nil || out != "new\n" {
		t.Fatalf("after a host mount was replaced: container reads %q (%v), want the new one's file", out, err)
	}

	// A moved mount keeps its ID; the digest has its mount point.
	moved := filepath.Join(dir, "moved")
	if err := os.Mkdir(moved, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(later, moved, "", unix.MS_MOVE, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(moved, unix.MNT_DETACH) })
	if got, want := mountPoints(t, f, sp, dir), dir+" tmpfs\n"+moved+" tmpfs\n"; got != want {
		t.Fatalf("after a host move: container sees %q, want %q", got, want)
	}
	if err := unix.Unmount(moved, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	unmount()
	if got, want := mountPoints(t, f, sp, dir), dir+" tmpfs\n"; got != want {
		t.Fatalf("after a host unmount: container sees %q, want %q", got, want)
	}

	// A container without namespaces of its own runs in the host's.
	out, _, err := runForked(t, f, Spec{}, "readlink /proc/self/ns/mnt")
	if err != nil || strings.TrimSpace(out) != hostNS {
		t.Fatalf("container without namespaces in mount namespace %q (%v), want the host's %s", out, err, hostNS)
	}
	if got, want := mountPoints(t, f, Spec{}, dir), dir+" tmpfs\n"+nsFile+" nsfs\n"; got != want {
		t.Fatalf("container without namespaces sees %q, want the host's %q", got, want)
	}
}

// Namespace files mounted or removed on the host change nothing the
// containers see, so they do not make the server rebuild its template.
func TestForkServerTemplateKeptAcrossNamespaceFileChanges(t *testing.T) {
	forEachDigest(t, testTemplateKeptAcrossNamespaceFileChanges)
}

func testTemplateKeptAcrossNamespaceFileChanges(t *testing.T) {
	dir, _ := mountTmpfs(t, t.TempDir(), "node")
	f := startForkServer(t)
	sp := Spec{Namespaces: true, ScratchDir: scratch(t)}
	// Held open, the template's namespace keeps its inode number, which
	// a new one could otherwise reuse.
	held, err := os.Open(filepath.Join("/proc", strconv.Itoa(f.Pid()), "ns/mnt"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	// Other processes (test packages running beside this one) may mount
	// and unmount on the host meanwhile, which rightly rebuilds the
	// template; a server that rebuilt it for namespace files would do so
	// at every attempt.
	const attempts = 5
	for attempt := 1; ; attempt++ {
		before, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(f.Pid()), "ns/mnt"))
		nsFile := mountNamespaceFile(t, dir)
		if got, want := mountPoints(t, f, sp, dir), dir+" tmpfs\n"; got != want {
			t.Fatalf("container sees %q, want %q", got, want)
		}
		if err := unix.Unmount(nsFile, unix.MNT_DETACH); err != nil {
			t.Fatal(err)
		}
		if got, want := mountPoints(t, f, sp, dir), dir+" tmpfs\n"; got != want {
			t.Fatalf("container sees %q, want %q", got, want)
		}
		after, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(f.Pid()), "ns/mnt"))
		if before == after {
			return
		}
		if attempt == attempts {
			t.Fatalf("template rebuilt for namespace files in all %d attempts: last %s, then %s", attempts, before, after)
		}
		t.Logf("attempt %d: template rebuilt (%s, then %s), perhaps for another process's mount", attempt, before, after)
	}
}

// BenchmarkForkServerTemplate measures container starts through the fork
// server on a host holding 400 namespace files, as a busy node does:
// with the host's mounts unchanged, with a namespace file mounted and
// unmounted before each start (the node's own churn, which keeps the
// template), and with a tmpfs mounted and unmounted (as a Memory
// emptyDir is), which rebuilds it. cpu-ms/op is the fork server's and
// the containers' CPU; the host's mount calls are the benchmark's own.
func BenchmarkForkServerTemplate(b *testing.B) {
	if os.Geteuid() != 0 || useGoInit {
		b.Skip("the template needs root and the C init step")
	}
	dir := b.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, ""); err != nil {
		b.Fatal(err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	for i := range 400 {
		p := filepath.Join(dir, "ns"+strconv.Itoa(i))
		if err := os.WriteFile(p, nil, 0o400); err != nil {
			b.Fatal(err)
		}
		if err := unix.Mount("/proc/self/ns/net", p, "", unix.MS_BIND, ""); err != nil {
			b.Fatal(err)
		}
	}
	churn := filepath.Join(dir, "churn")
	if err := os.Mkdir(churn, 0o755); err != nil {
		b.Fatal(err)
	}
	nsChurn := filepath.Join(dir, "ns-churn")
	if err := os.WriteFile(nsChurn, nil, 0o400); err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name   string
		change func() error
	}{
		{"quiet host", func() error { return nil }},
		{"namespace file churn", func() error {
			if err := unix.Mount("/proc/self/ns/net", nsChurn, "", unix.MS_BIND, ""); err != nil {
				return err
			}
			return unix.Unmount(nsChurn, unix.MNT_DETACH)
		}},
		{"host mount churn", func() error {
			if err := unix.Mount("tmpfs", churn, "tmpfs", 0, ""); err != nil {
				return err
			}
			return unix.Unmount(churn, unix.MNT_DETACH)
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			server := startForkServer(b)
			sp := Spec{Namespaces: true, Hostname: "bench"}
			cpu := func() time.Duration { return childrenCPU(b) + liveCPU(b, server.Pid()) }
			before := cpu()
			for i := 0; i < b.N; i++ {
				if err := tc.change(); err != nil {
					b.Fatal(err)
				}
				if err := forkTrue(server, sp); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpu()-before)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}
