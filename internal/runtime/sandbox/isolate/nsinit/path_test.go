//go:build cgo

package nsinit

import (
	"path/filepath"
	"testing"
)

// paths are every string of up to five elements from a small alphabet
// that covers roots, repeated slashes, dot and dot-dot.
func paths() []string {
	alphabet := []string{"/", ".", "..", "a", "bc"}
	out := []string{""}
	level := []string{""}
	for n := 0; n < 5; n++ {
		var next []string
		for _, p := range level {
			for _, e := range alphabet {
				next = append(next, p+e)
			}
		}
		out = append(out, next...)
		level = next
	}
	return out
}

func TestPathHelpersMatchFilepath(t *testing.T) {
	all := paths()
	for _, p := range all {
		if got, want := cleanPath(p), filepath.Clean(p); got != want {
			t.Errorf("clean(%q) = %q, want %q", p, got, want)
		}
		if got, want := dirPath(p), filepath.Dir(p); got != want {
			t.Errorf("dir(%q) = %q, want %q", p, got, want)
		}
	}
	for _, a := range []string{"", "/", "/usr/bin/", ".", "..", "a/../..", "//x"} {
		for _, b := range []string{"", "sh", "../sh", "/abs", "."} {
			if got, want := joinPath(a, b), filepath.Join(a, b); got != want {
				t.Errorf("join(%q, %q) = %q, want %q", a, b, got, want)
			}
		}
	}
	if t.Failed() {
		t.Logf("checked %d paths", len(all))
	}
}
