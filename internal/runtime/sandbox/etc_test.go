package sandbox

import (
	"os"
	"path/filepath"
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
