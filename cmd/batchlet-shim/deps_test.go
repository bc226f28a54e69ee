package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestShimLinksWithoutCgo guards the shim's start-up cost: a package that
// needs cgo (net, os/user) makes the binary dynamically linked, and every
// container then pays the dynamic loader and cgo's thread start-up.
func TestShimLinksWithoutCgo(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch dep {
		case "runtime/cgo", "net", "os/user":
			t.Errorf("batchlet-shim depends on %s; keep cgo-linked packages out of the shim's imports", dep)
		}
	}
}
