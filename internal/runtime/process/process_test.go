package process

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/batchlet/batchlet/internal/runtime"
	"github.com/batchlet/batchlet/internal/runtime/logfile"
	"github.com/batchlet/batchlet/internal/runtime/sandbox/isolate"
	// The C init step, as the shim binary links it: started as
	// isolate.InitSubcommand, the test binary runs it before Go starts, and
	// it serves the supervisor's fork server.
	_ "github.com/batchlet/batchlet/internal/runtime/sandbox/isolate/nsinit"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ShimSubcommand {
		os.Exit(ShimMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == earlierShimSubcommand {
		muxRefused = true
		os.Exit(ShimMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == isolate.InitSubcommand {
		os.Exit(isolate.InitMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// newRuntime returns a runtime with a supervisor of its own, which goes
// when the test ends.
func newRuntime(t *testing.T) *Runtime {
	t.Helper()
	return newRuntimeIn(t, t.TempDir(), 0)
}

// newRuntimeIn returns a runtime on root; idle 0 is the default.
func newRuntimeIn(t *testing.T, root string, idle time.Duration) *Runtime {
	t.Helper()
	r, err := New(Options{Root: root, Idle: idle})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopSupervisor(t, r) })
	return r
}

// runningSupervisor returns the pid of the supervisor answering on r's
// socket without starting one.
func runningSupervisor(r *Runtime) (int, bool) {
	key, err := r.supervisorKey()
	if err != nil {
		return 0, false
	}
	sock, _ := supervisorFiles(r.root, key)
	conn, err := dialSocket(sock)
	if err != nil {
		return 0, false
	}
	defer conn.Close()
	var info supInfo
	if _, err := request(conn, supRequest{Op: opInfo}, &info); err != nil {
		return 0, false
	}
	return info.PID, true
}

// stopSupervisor kills r's supervisor, if one runs, and waits until it is
// gone.
func stopSupervisor(t *testing.T, r *Runtime) {
	pid, ok := runningSupervisor(r)
	if !ok {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	waitGone(t, pid)
}

// waitGone waits until pid no longer exists (reaped, not a zombie).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still exists", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func cfg(t *testing.T, argv ...string) runtime.ContainerConfig {
	dir := t.TempDir()
	return runtime.ContainerConfig{
		ID:       "c1",
		Argv:     argv,
		Env:      []string{"PATH=" + defaultPath, "GREETING=hello"},
		StateDir: filepath.Join(dir, "state"),
		LogPath:  filepath.Join(dir, "logs", "0.log"),
	}
}

// adoptRunning adopts the attempt of dir, which must still be running.
func adoptRunning(t *testing.T, r *Runtime, dir string) runtime.Container {
	t.Helper()
	adopted, err := r.Adopt(dir)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-adopted.Done():
		t.Fatalf("adopted running container reported done: %+v", adopted.Exit())
	default:
	}
	return adopted
}

func waitExit(t *testing.T, c runtime.Container) runtime.Exit {
	t.Helper()
	select {
	case <-c.Done():
		return c.Exit()
	case <-time.After(10 * time.Second):
		t.Fatal("container did not end")
		return runtime.Exit{}
	}
}

func readLog(t *testing.T, path string) string {
	t.Helper()
	var b strings.Builder
	if err := logfile.Copy(context.Background(), &b, path, logfile.Options{TailLines: -1}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestExitCodesAndSignals(t *testing.T) {
	r := newRuntime(t)
	tests := []struct {
		name     string
		argv     []string
		code     int32
		signal   int32
		contains string
	}{
		{"success", []string{"sh", "-c", "echo $GREETING; echo oops >&2"}, 0, 0, "hello\noops\n"},
		{"exit 3", []string{"sh", "-c", "exit 3"}, 3, 0, ""},
		{"killed", []string{"sh", "-c", "kill -9 $$"}, 137, 9, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg(t, tc.argv...)
			ctr, err := r.Start(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if ctr.StartedAt().IsZero() || ctr.ID() != "c1" {
				t.Fatalf("bad container identity: %q %v", ctr.ID(), ctr.StartedAt())
			}
			exit := waitExit(t, ctr)
			if exit.ExitCode != tc.code || exit.Signal != tc.signal {
				t.Fatalf("exit = %+v, want code %d signal %d", exit, tc.code, tc.signal)
			}
			if tc.contains != "" {
				// stdout and stderr are separate pipes: only the lines are
				// certain, not their interleaving.
				got := strings.SplitAfter(readLog(t, c.LogPath), "\n")
				want := strings.SplitAfter(tc.contains, "\n")
				sort.Strings(got)
				sort.Strings(want)
				if strings.Join(got, "") != strings.Join(want, "") {
					t.Fatalf("log = %q, want the lines of %q", got, tc.contains)
				}
			}
		})
	}
}

func TestStartError(t *testing.T) {
	r := newRuntime(t)
	_, err := r.Start(context.Background(), cfg(t, "no-such-command-xyz"))
	se, ok := err.(*runtime.StartError)
	if !ok || !strings.Contains(se.Message, `"no-such-command-xyz": executable file not found in $PATH`) {
		t.Fatalf("err = %v, want StartError about PATH", err)
	}
}

func TestPauseRunsUntilSignalled(t *testing.T) {
	r := newRuntime(t)
	ctr, err := r.Start(context.Background(), cfg(t, PauseCommand))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctr.Done():
		t.Fatal("pause ended on its own")
	case <-time.After(200 * time.Millisecond):
	}
	if err := ctr.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if exit := waitExit(t, ctr); exit.ExitCode != 0 {
		t.Fatalf("pause exit = %+v, want 0", exit)
	}
}

func TestAdoptRunningAndFinished(t *testing.T) {
	r := newRuntime(t)
	c := cfg(t, "sh", "-c", "read x < /dev/null; sleep 30")
	ctr, err := r.Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	// A fresh runtime, as after an agent restart.
	adopted := adoptRunning(t, newRuntime(t), c.StateDir)
	if err := adopted.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if exit := waitExit(t, adopted); exit.ExitCode != 143 || exit.Signal != 15 {
		t.Fatalf("adopted exit = %+v, want 143/15", exit)
	}
	waitExit(t, ctr)
	again, err := r.Adopt(c.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if exit := waitExit(t, again); exit.ExitCode != 143 {
		t.Fatalf("re-adopted finished exit = %+v", exit)
	}
}

func TestVanishedIsNeverSuccess(t *testing.T) {
	r := newRuntime(t)
	c := cfg(t, "sleep", "30")
	ctr, err := r.Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	var st state
	if err := readJSON(c.StateDir, stateFile, &st); err != nil {
		t.Fatal(err)
	}
	// Kill the shim first so it cannot record anything, then the child.
	if err := syscall.Kill(st.ShimPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = syscall.Kill(-st.ChildPID, syscall.SIGKILL)
	exit := waitExit(t, ctr)
	if exit.Reason != "ContainerStatusUnknown" || exit.ExitCode == 0 {
		t.Fatalf("exit = %+v, want ContainerStatusUnknown", exit)
	}
	adopted, err := r.Adopt(c.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if exit := waitExit(t, adopted); exit.Reason != "ContainerStatusUnknown" {
		t.Fatalf("adopted exit = %+v", exit)
	}
}

func TestProcessGroupKilledWithMain(t *testing.T) {
	r := newRuntime(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "bg")
	c := cfg(t, "sh", "-c", fmt.Sprintf("(sleep 30; touch %s) & echo started", marker))
	ctr, err := r.Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if exit := waitExit(t, ctr); exit.ExitCode != 0 {
		t.Fatalf("exit = %+v", exit)
	}
	var st state
	if err := readJSON(c.StateDir, stateFile, &st); err != nil {
		t.Fatal(err)
	}
	// Killed members may linger briefly as zombies until init reaps them.
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(-st.ChildPID, 0) != syscall.ESRCH {
		if time.Now().After(deadline) {
			t.Fatal("process group still alive after main exit")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("background process outlived the container")
	}
}

// TestTermGoesToMainProcessOnly checks SIGTERM's target: the main process,
// which here traps it and finds its child still alive, as in a container.
func TestTermGoesToMainProcessOnly(t *testing.T) {
	r := newRuntime(t)
	c := cfg(t, "sh", "-c", `sleep 30 & child=$!
trap 'sleep 0.2; echo child-state-$(cut -d" " -f3 /proc/$child/stat); kill $child; exit 0' TERM
echo ready
wait`)
	ctr, err := r.Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(readLog(t, c.LogPath), "ready") {
		if time.Now().After(deadline) {
			t.Fatal("container never became ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := ctr.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if exit := waitExit(t, ctr); exit.ExitCode != 0 {
		t.Fatalf("exit = %+v", exit)
	}
	// A child that got the signal too would be a zombie (Z) by now.
	if got := readLog(t, c.LogPath); !strings.Contains(got, "child-state-S") {
		t.Fatalf("log = %q, want the trap to see its child alive", got)
	}
}
