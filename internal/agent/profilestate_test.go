package agent

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestPruneProfileStateKeepsLiveAndRemovesAbandoned runs the supervisor's
// own locking lines in a real shell: a directory whose holder lives stays,
// one whose holder was killed goes, and a fresh one not yet locked stays.
func TestPruneProfileStateKeepsLiveAndRemovesAbandoned(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock not installed")
	}
	dataDir := t.TempDir()
	base := filepath.Join(dataDir, "profiles", "redis")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	holder := func(name string) *exec.Cmd {
		dir := filepath.Join(base, profileStatePrefix+name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		// As superviseStart does, then a long-lived child holding fd 9.
		cmd := exec.Command("/bin/sh", "-c", `exec 9>"$1/`+profileStateLock+`" && flock -n 9 || exit 1; echo locked; exec sleep 300`, "sh", dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 7)
		if _, err := out.Read(buf); err != nil || string(buf) != "locked\n" {
			t.Fatalf("holder of %s did not lock: %q %v", name, buf, err)
		}
		return cmd
	}
	live := holder("live")
	defer func() { _ = live.Process.Kill(); _ = live.Wait() }()
	dead := holder("dead")
	_ = dead.Process.Kill()
	_ = dead.Wait()
	fresh := filepath.Join(base, profileStatePrefix+"fresh")
	stale := filepath.Join(base, profileStatePrefix+"stale")
	for _, d := range []string{fresh, stale} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * profileStateGrace)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}

	pruneProfileState(dataDir, time.Now())

	for name, wantKept := range map[string]bool{"live": true, "dead": false, "fresh": true, "stale": false} {
		_, err := os.Stat(filepath.Join(base, profileStatePrefix+name))
		if kept := err == nil; kept != wantKept {
			t.Errorf("%s: kept=%v, want %v", name, kept, wantKept)
		}
	}
}
