package main

import (
	"debug/elf"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const nsinitPkg = "github.com/batchlet/batchlet/internal/runtime/sandbox/isolate/nsinit"

// TestShimIsStaticWithTheCInitStep guards the init step's start-up cost:
// the shim must carry package nsinit (the C init step, run before the Go
// runtime starts), be linked statically (no dynamic loader per
// container), and so stay clear of net and os/user, whose C name services
// a static binary cannot use.
func TestShimIsStaticWithTheCInitStep(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := map[string]bool{}
	for _, dep := range strings.Fields(string(out)) {
		deps[dep] = true
	}
	for _, dep := range []string{"net", "os/user"} {
		if deps[dep] {
			t.Errorf("batchlet-shim depends on %s; keep packages that need the C library's name services out of the shim", dep)
		}
	}
	if !deps[nsinitPkg] {
		t.Errorf("batchlet-shim does not import %s: containers would start through the Go init step", nsinitPkg)
	}

	bin := filepath.Join(t.TempDir(), "batchlet-shim")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	} else if len(out) > 0 {
		t.Errorf("go build printed warnings:\n%s", out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("batchlet-shim is dynamically linked; it must be static")
		}
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatalf("reading symbols: %v", err)
	}
	found := false
	for _, s := range syms {
		found = found || s.Name == "nsinit_exec_container"
	}
	if !found {
		t.Error("batchlet-shim lacks the C init step's code")
	}
}
