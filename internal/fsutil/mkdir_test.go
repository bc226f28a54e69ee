package fsutil

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

func TestMkdirAll(t *testing.T) {
	root := t.TempDir()
	nested := filepath.Join(root, "a", "b", "c")
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	for range 2 { // made, then already there
		if err := MkdirAll(nested, 0o750); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(nested); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o750 {
			t.Fatalf("%s: %v, %v", nested, fi, err)
		}
	}
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := MkdirAll(file, 0o750); err == nil {
		t.Fatal("an existing file taken for a directory")
	}
	if err := MkdirAll(filepath.Join(file, "sub"), 0o750); err == nil {
		t.Fatal("a directory made under a file")
	}
}

// BenchmarkMkdirAll makes new directories side by side, as a node makes
// one per pod. FSUTIL_BENCH_DIR picks the parent, to compare filesystems
// and places on one (the default is the system's temporary directory).
func BenchmarkMkdirAll(b *testing.B) {
	parent, err := os.MkdirTemp(os.Getenv("FSUTIL_BENCH_DIR"), "mkdir-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(parent)
	i := 0
	for b.Loop() {
		if err := MkdirAll(filepath.Join(parent, strconv.Itoa(i)), 0o750); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
