package sandbox

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestUmaskOfIsTheProcessUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	syscall.Umask(old)
	if got := umaskOf(); got != os.FileMode(old) {
		t.Fatalf("umaskOf() = %#o, want %#o", got, old)
	}
}

// TestWriteEtcFilesInTheGivenDirectory: the files land in Dir itself,
// readable by any user, with one mount each.
func TestWriteEtcFilesInTheGivenDirectory(t *testing.T) {
	dir := t.TempDir()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"}}
	mounts, err := WriteEtcFiles(pod, EtcFiles{Dir: dir, PodIPs: []string{"10.244.0.7"}, ResolvConf: []byte("nameserver 10.96.0.10\n")})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/etc/hosts": "hosts", "/etc/hostname": "hostname", "/etc/resolv.conf": "resolv.conf"}
	if len(mounts) != len(want) {
		t.Fatalf("mounts %+v", mounts)
	}
	for _, m := range mounts {
		if m.Source != filepath.Join(dir, want[m.Target]) {
			t.Errorf("mount of %s from %s, want %s", m.Target, m.Source, filepath.Join(dir, want[m.Target]))
		}
		st, err := os.Stat(m.Source)
		if err != nil {
			t.Errorf("%s: %v", m.Source, err)
		} else if st.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", m.Source, st.Mode().Perm())
		}
	}
	host, _ := os.ReadFile(filepath.Join(dir, "hostname"))
	if string(host) != "web-0\n" {
		t.Errorf("hostname file %q", host)
	}
}

// TestWriteEtcFilesMakesAMissingDirectory: the runtime's sandbox step
// usually makes the directory, but the files do not depend on it.
func TestWriteEtcFilesMakesAMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pods", "uid", "sandbox")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"}}
	mounts, err := WriteEtcFiles(pod, EtcFiles{Dir: dir, PodIPs: []string{"10.244.0.7"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 2 {
		t.Fatalf("mounts %+v, want hosts and hostname", mounts)
	}
	for _, m := range mounts {
		if _, err := os.Stat(m.Source); err != nil {
			t.Error(err)
		}
	}
}

// TestWriteEtcFilesAgainReplacesTheFiles: a pod set up again (by a
// restarted agent, its containers running) gets new files by rename: a
// container that has the old file bound keeps reading it whole, never a
// file truncated or half rewritten, and only the new containers see the
// new content.
func TestWriteEtcFilesAgainReplacesTheFiles(t *testing.T) {
	dir := t.TempDir()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"}}
	first := EtcFiles{Dir: dir, PodIPs: []string{"10.244.0.7"}, ResolvConf: []byte("nameserver 10.96.0.10\n")}
	if _, err := WriteEtcFiles(pod, first); err != nil {
		t.Fatal(err)
	}
	// An open file stands for a bind mount: both hold the inode.
	bound := map[string]*os.File{}
	old := map[string][]byte{}
	for _, name := range []string{"hosts", "hostname", "resolv.conf"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		bound[name] = f
		if old[name], err = os.ReadFile(f.Name()); err != nil {
			t.Fatal(err)
		}
	}
	second := EtcFiles{Dir: dir, PodIPs: []string{"10.244.0.8"}, ResolvConf: []byte("nameserver 10.96.0.11\nsearch x\n")}
	if _, err := WriteEtcFiles(pod, second); err != nil {
		t.Fatal(err)
	}
	for name, f := range bound {
		got, err := io.ReadAll(f)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(old[name]) {
			t.Errorf("%s as a running container sees it: %q, want the first content %q", name, got, old[name])
		}
	}
	hosts, _ := os.ReadFile(filepath.Join(dir, "hosts"))
	if !strings.Contains(string(hosts), "10.244.0.8\tweb-0\n") || strings.Contains(string(hosts), "10.244.0.7") {
		t.Errorf("new hosts file %q", hosts)
	}
	if resolv, _ := os.ReadFile(filepath.Join(dir, "resolv.conf")); string(resolv) != string(second.ResolvConf) {
		t.Errorf("new resolv.conf %q", resolv)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("directory holds %v, want the three files only", entries)
	}
}

// TestWriteEtcFilesReplacesALeftOverPartialFile: a file an agent stopped
// in the middle of writing (no container started with it) is rewritten
// whole.
func TestWriteEtcFilesReplacesALeftOverPartialFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte("# Kubernetes-managed"), 0o644); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns"}}
	if _, err := WriteEtcFiles(pod, EtcFiles{Dir: dir, PodIPs: []string{"10.244.0.7"}}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "hosts"))
	if want := HostsFile(pod, []string{"10.244.0.7"}, ""); string(got) != string(want) {
		t.Errorf("hosts %q, want %q", got, want)
	}
}
