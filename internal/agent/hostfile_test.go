package agent

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/batchlet/batchlet/internal/dns"
)

// settledHostFile reads path with a clock far enough ahead that every
// state of the file is kept.
func settledHostFile(path string) *hostFile {
	return &hostFile{path: path, now: func() time.Time { return time.Now().Add(time.Hour) }}
}

// nextTick waits long enough for the file system's clock to move on: a
// change in the same tick and of the same size is what the settling
// guards against, and these tests skip it.
func nextTick() { time.Sleep(20 * time.Millisecond) }

func wantRead(t *testing.T, f *hostFile, want string) []byte {
	t.Helper()
	got := f.read()
	if string(got) != want {
		t.Fatalf("read %q, want %q", got, want)
	}
	return got
}

// TestHostFileFollowsChanges: the content is kept, and every way of
// changing the file is seen on the next read.
func TestHostFileFollowsChanges(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "resolv.conf")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("nameserver 10.0.0.1\n")
	f := settledHostFile(path)
	first := wantRead(t, f, "nameserver 10.0.0.1\n")
	if again := wantRead(t, f, "nameserver 10.0.0.1\n"); &again[0] != &first[0] {
		t.Fatal("an unchanged file was read again")
	}

	// Rewritten in place, same size, its modification time put back: the
	// change time still moves.
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	nextTick()
	write("nameserver 10.0.0.2\n")
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	wantRead(t, f, "nameserver 10.0.0.2\n")

	// Replaced by a rename, same size and times: another inode.
	fi, _ = os.Stat(path)
	nextTick()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte("nameserver 10.0.0.3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	wantRead(t, f, "nameserver 10.0.0.3\n")

	// Appended to.
	nextTick()
	af, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := af.WriteString("search example.org\n"); err != nil {
		t.Fatal(err)
	}
	af.Close()
	wantRead(t, f, "nameserver 10.0.0.3\nsearch example.org\n")

	// Removed, then made again.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if got := f.read(); got != nil {
		t.Fatalf("read %q of a missing file, want nil", got)
	}
	write("nameserver 10.0.0.4\n")
	wantRead(t, f, "nameserver 10.0.0.4\n")
}

// TestHostFileFollowsASymlink: /etc/resolv.conf is often a link, and a
// resolver manager may point it at another file.
func TestHostFileFollowsASymlink(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.conf"), filepath.Join(dir, "b.conf")
	for p, s := range map[string]string{a: "nameserver 10.0.0.1\n", b: "nameserver 10.0.0.2\n"} {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "resolv.conf")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	f := settledHostFile(link)
	wantRead(t, f, "nameserver 10.0.0.1\n")
	tmp := link + ".new"
	if err := os.Symlink(b, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
	wantRead(t, f, "nameserver 10.0.0.2\n")
}

// TestHostFileKeepsOnlySettledContent: a file changed less than
// hostFileSettle ago may change again within the same tick of the file
// system's clock without its identity changing, so it is read each time
// until it has settled.
func TestHostFileKeepsOnlySettledContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte("nameserver 10.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	f := &hostFile{path: path, now: func() time.Time { return now }}
	wantRead(t, f, "nameserver 10.0.0.1\n")
	if f.kept {
		t.Fatal("a file changed just now was kept")
	}
	now = now.Add(hostFileSettle + time.Second)
	wantRead(t, f, "nameserver 10.0.0.1\n")
	if !f.kept {
		t.Fatal("a settled file was not kept")
	}
}

// TestPodResolvConfFollowsTheHost: each pod's resolv.conf is what the
// host's file renders to as it is when the pod is set up, the same as a
// read for each pod (kubelet's way) gives, through every change.
func TestPodResolvConfFollowsTheHost(t *testing.T) {
	dir := t.TempDir()
	host := filepath.Join(dir, "host-resolv.conf")
	a := &Agent{cfg: Config{ClusterDNS: "10.96.0.10", PodNetwork: PodNetworkConfig{Mode: PodNetworkOff}},
		isolate: true, nodeIP: "10.0.0.1",
		hostResolv: hostFile{path: host, now: func() time.Time { return time.Now().Add(time.Hour) }}}
	n := 0
	check := func(what string) {
		t.Helper()
		for i := 0; i < 2; i++ {
			n++
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", n), Namespace: "jobs", UID: types.UID(fmt.Sprint("uid-", n))}}
			runDir := filepath.Join(dir, pod.Name)
			if _, err := a.setUpPod(context.Background(), pod, filepath.Join(dir, "data-"+pod.Name), runDir); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(runDir, "resolv.conf"))
			if err != nil {
				t.Fatal(err)
			}
			hostData, _ := os.ReadFile(host)
			want, err := dns.ResolvConf("10.96.0.10", "jobs", "", pod, hostData)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("%s: pod %s's resolv.conf %q, want %q", what, pod.Name, got, want)
			}
		}
	}
	write := func(s string) {
		t.Helper()
		nextTick()
		if err := os.WriteFile(host, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("nameserver 192.0.2.1\nsearch corp.example\n")
	check("first")
	write("nameserver 192.0.2.1\nsearch lab.example\n")
	check("rewritten, same size")
	write("nameserver 192.0.2.1\nsearch lab.example\noptions edns0\n")
	check("grown")
	if err := os.Remove(host); err != nil {
		t.Fatal(err)
	}
	check("removed")
	write("search again.example\n")
	check("made again")
}

// TestSetUpPodAgainKeepsRunningContainersFiles: a restarted agent sets up
// the sandbox of a pod whose containers run on; the files they have bound
// stay whole and unchanged, the new ones carry the host's change.
func TestSetUpPodAgainKeepsRunningContainersFiles(t *testing.T) {
	dir := t.TempDir()
	host := filepath.Join(dir, "host-resolv.conf")
	if err := os.WriteFile(host, []byte("search corp.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &Agent{cfg: Config{ClusterDNS: "10.96.0.10", PodNetwork: PodNetworkConfig{Mode: PodNetworkOff}},
		isolate: true, nodeIP: "10.0.0.1", hostResolv: hostFile{path: host}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "jobs", UID: "uid-p"}}
	runDir := filepath.Join(dir, "run")
	if _, err := a.setUpPod(context.Background(), pod, filepath.Join(dir, "data"), runDir); err != nil {
		t.Fatal(err)
	}
	resolv := filepath.Join(runDir, "resolv.conf")
	bound, err := os.Open(resolv)
	if err != nil {
		t.Fatal(err)
	}
	defer bound.Close()
	old, _ := os.ReadFile(resolv)

	nextTick()
	if err := os.WriteFile(host, []byte("search lab.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The agent restarted: a new one, nothing kept.
	a = &Agent{cfg: a.cfg, isolate: true, nodeIP: "10.0.0.1", hostResolv: hostFile{path: host}}
	if _, err := a.setUpPod(context.Background(), pod, filepath.Join(dir, "data"), runDir); err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(bound); string(got) != string(old) {
		t.Errorf("the running container's resolv.conf reads %q, want %q", got, old)
	}
	if got, _ := os.ReadFile(resolv); !strings.Contains(string(got), "lab.example") {
		t.Errorf("the new resolv.conf %q misses the host's change", got)
	}
}
