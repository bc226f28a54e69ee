package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/batchlet/batchlet/internal/runtime"
	"github.com/batchlet/batchlet/internal/runtime/process"
	"github.com/batchlet/batchlet/internal/runtime/sandbox"
)

// TestMain routes the process runtime's shim and sandbox init, which
// re-execute the test binary, as the batchlet binary routes them.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case process.ShimSubcommand:
			os.Exit(process.ShimMain(os.Args[2:]))
		case sandbox.InitSubcommand:
			os.Exit(sandbox.InitMain(os.Args[2:]))
		}
	}
	os.Exit(m.Run())
}

func TestPodStartMeasuresEveryMode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	const count = 3
	results, err := PodStart(ctx, &out, PodStartOptions{Count: count, Dir: t.TempDir(), Hold: 2})
	if err != nil {
		t.Fatalf("PodStart: %v\n%s", err, out.String())
	}
	if len(results) != len(PodStartModes) {
		t.Fatalf("got %d results, want one per mode (%d)", len(results), len(PodStartModes))
	}
	for i, r := range results {
		if r.Mode != PodStartModes[i].Name {
			t.Errorf("result %d is for mode %q, want %q", i, r.Mode, PodStartModes[i].Name)
		}
		if r.Skipped != "" {
			if r.Mode == "plain" {
				t.Errorf("plain mode skipped: %s", r.Skipped)
			}
			continue
		}
		if len(r.Total) != count || len(r.Start) != count {
			t.Errorf("mode %s: %d totals and %d starts, want %d each", r.Mode, len(r.Total), len(r.Start), count)
		}
		for j := range r.Total {
			if r.Start[j] <= 0 || r.Start[j] > r.Total[j] {
				t.Errorf("mode %s: start %v not within total %v", r.Mode, r.Start[j], r.Total[j])
			}
		}
		if !strings.Contains(out.String(), r.Mode+" ") {
			t.Errorf("report lacks mode %s:\n%s", r.Mode, out.String())
		}
		if r.CPU <= 0 {
			t.Errorf("mode %s: CPU per container %v", r.Mode, r.CPU)
		}
	}
	if !strings.Contains(out.String(), "with 2 containers RSS") {
		t.Errorf("report lacks the supervisor's memory with 2 containers:\n%s", out.String())
	}
}

// TestSupervisorsCPU: the CPU time of containers run by a supervisor this
// process started is found though nobody reaped the supervisor yet.
// Supervisors of earlier tests may exit meanwhile, so the check is on
// this runtime's own.
func TestSupervisorsCPU(t *testing.T) {
	rt, err := process.New(process.Options{Root: t.TempDir(), Idle: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	sup, err := rt.SupervisorPID()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(sup, syscall.SIGKILL) })
	before, err := procTreeCPU(sup)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctr, err := rt.Start(context.Background(), runtime.ContainerConfig{ID: "burn",
		Argv:     []string{"/bin/sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"},
		StateDir: filepath.Join(dir, "state"), LogPath: filepath.Join(dir, "0.log")})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctr.Done():
	case <-time.After(time.Minute):
		t.Fatal("container did not end")
	}
	if e := ctr.Exit(); e.ExitCode != 0 {
		t.Fatalf("exit %+v", e)
	}
	after, err := procTreeCPU(sup)
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Fatalf("supervisor's CPU %v before, %v after a busy container", before, after)
	}
	if all := supervisorsCPU(); all < after {
		t.Fatalf("supervisors' CPU %v, less than this runtime's supervisor's %v: not found", all, after)
	}
}
