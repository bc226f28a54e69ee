package process

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/batchlet/batchlet/internal/runtime"
	"github.com/batchlet/batchlet/internal/runtime/sandbox/isolate"
)

// warmShims waits until the runtime holds n standby shims of kind.
func warmShims(t *testing.T, r *Runtime, kind string, n int) []int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pids := r.pool.warmPIDs(kind)
		if len(pids) >= n {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d standby shims of kind %s, want %d", len(pids), kind, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startWarm starts c once a standby shim is ready and checks that one of
// them took it.
func startWarm(t *testing.T, r *Runtime, c runtime.ContainerConfig, kind string) (runtime.Container, error) {
	t.Helper()
	pids := warmShims(t, r, kind, 1)
	ctr, err := r.Start(context.Background(), c)
	if err == nil && !slices.Contains(pids, ctr.(*container).st.ShimPID) {
		t.Fatalf("container run by shim %d, not by a standby one (%v)", ctr.(*container).st.ShimPID, pids)
	}
	return ctr, err
}

func TestStandbyShimRunsHostContainer(t *testing.T) {
	r := newRuntime(t)
	defer r.Close()
	first := cfg(t, "sh", "-c", "exit 0")
	ctr, err := r.Start(context.Background(), first)
	if err != nil {
		t.Fatal(err)
	}
	waitExit(t, ctr)

	c := cfg(t, "sh", "-c", "echo $GREETING; exit 3")
	ctr, err = startWarm(t, r, c, kindHost)
	if err != nil {
		t.Fatal(err)
	}
	if exit := waitExit(t, ctr); exit.ExitCode != 3 {
		t.Fatalf("exit = %+v, want code 3", exit)
	}
	if got := readLog(t, c.LogPath); got != "hello\n" {
		t.Fatalf("log = %q", got)
	}
	adopted, err := r.Adopt(c.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if exit := waitExit(t, adopted); exit.ExitCode != 3 {
		t.Fatalf("adopted exit = %+v, want code 3", exit)
	}
}

func TestCloseReleasesStandbyShims(t *testing.T) {
	r := newRuntime(t)
	ctr, err := r.Start(context.Background(), cfg(t, "true"))
	if err != nil {
		t.Fatal(err)
	}
	waitExit(t, ctr)
	pids := warmShims(t, r, kindHost, defaultStandby)
	r.Close()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("standby shim %d still running after Close", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if _, err := r.Start(context.Background(), cfg(t, "true")); err != nil {
		t.Fatalf("start after Close: %v", err)
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("namespaces need root")
	}
}

func TestStandbyShimRunsSandboxedContainer(t *testing.T) {
	requireRoot(t)
	r := newRuntime(t)
	defer r.Close()
	sb := func(c runtime.ContainerConfig) runtime.ContainerConfig {
		c.Sandbox = &isolate.Spec{Namespaces: true, Hostname: "warm-pod"}
		return c
	}
	ctr, err := r.Start(context.Background(), sb(cfg(t, "true")))
	if err != nil {
		t.Fatal(err)
	}
	waitExit(t, ctr)

	t.Run("pid 1 and hostname", func(t *testing.T) {
		c := sb(cfg(t, "sh", "-c", "echo $$ $(hostname) $GREETING; exit 4"))
		ctr, err := startWarm(t, r, c, kindNamespace)
		if err != nil {
			t.Fatal(err)
		}
		if exit := waitExit(t, ctr); exit.ExitCode != 4 {
			t.Fatalf("exit = %+v, want code 4", exit)
		}
		if got := readLog(t, c.LogPath); got != "1 warm-pod hello\n" {
			t.Fatalf("log = %q", got)
		}
	})
	t.Run("pid 1 ignores unhandled SIGTERM", func(t *testing.T) {
		c := sb(cfg(t, "sh", "-c", "kill -TERM $$; echo survived"))
		ctr, err := startWarm(t, r, c, kindNamespace)
		if err != nil {
			t.Fatal(err)
		}
		if exit := waitExit(t, ctr); exit.ExitCode != 0 {
			t.Fatalf("exit = %+v, want 0", exit)
		}
		if got := readLog(t, c.LogPath); got != "survived\n" {
			t.Fatalf("log = %q", got)
		}
	})
	t.Run("terminal", func(t *testing.T) {
		c := sb(cfg(t, "sh", "-c", "tty >/dev/null && echo on-tty"))
		c.TTY = true
		ctr, err := startWarm(t, r, c, kindNamespace)
		if err != nil {
			t.Fatal(err)
		}
		if exit := waitExit(t, ctr); exit.ExitCode != 0 {
			t.Fatalf("exit = %+v, log %q", exit, readLog(t, c.LogPath))
		}
		if got := readLog(t, c.LogPath); !strings.Contains(got, "on-tty") {
			t.Fatalf("log = %q", got)
		}
	})
	t.Run("missing command", func(t *testing.T) {
		_, err := startWarm(t, r, sb(cfg(t, "no-such-command-xyz")), kindNamespace)
		var se *runtime.StartError
		if !errors.As(err, &se) || !strings.Contains(se.Message, "no-such-command-xyz") {
			t.Fatalf("err = %v, want a StartError naming the command", err)
		}
	})
}

func TestStartRefusesUnsupportedSandbox(t *testing.T) {
	r := newRuntime(t)
	defer r.Close()
	c := cfg(t, "true")
	c.Sandbox = &isolate.Spec{Hostname: "needs-uts"}
	_, err := r.Start(context.Background(), c)
	var ue *isolate.UnsupportedError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want an UnsupportedError", err)
	}
}
