package main

import (
	"strings"
	"testing"
)

// A node without room for a pod is refused before anything starts, by
// both commands that run one.
func TestMaxPodsBelowOneIsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"server", "--max-pods", "0", "--data-dir", t.TempDir()},
		{"server", "--max-pods=-3", "--data-dir", t.TempDir()},
		{"agent", "--server", "https://127.0.0.1:1", "--token", "x", "--max-pods", "0", "--data-dir", t.TempDir()},
	} {
		cmd := newRootCommand()
		cmd.SetArgs(args)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), "--max-pods must be at least 1") {
			t.Errorf("%v: error %v, want the --max-pods refusal", args, err)
		}
	}
}
