package sandbox

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSubPathSourceCreatesAndConfines(t *testing.T) {
	vol := t.TempDir()
	sub, err := subPathSource(vol, "nested/dir")
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(sub); err != nil || !info.IsDir() {
		t.Fatalf("subPath not created as a directory: %v", err)
	}
	if err := os.Symlink("/etc", filepath.Join(vol, "out")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"/abs", "../up", "a/../../up", "out"} {
		if _, err := subPathSource(vol, bad); err == nil {
			t.Errorf("subPath %q accepted", bad)
		}
	}
}
