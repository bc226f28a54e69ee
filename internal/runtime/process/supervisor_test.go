package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/batchlet/batchlet/internal/runtime"
	"github.com/batchlet/batchlet/internal/runtime/sandbox/isolate"
)

func stateOf(t *testing.T, dir string) state {
	t.Helper()
	var st state
	if err := readJSON(dir, stateFile, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func supervisorPID(t *testing.T, r *Runtime) int {
	t.Helper()
	pid, err := r.SupervisorPID()
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSupervisorFoundAgainAfterRestart: a runtime on the same root, as
// after an agent restart, adopts a running container through the
// supervisor that started it, and starts new containers there too.
func TestSupervisorFoundAgainAfterRestart(t *testing.T) {
	root := t.TempDir()
	r1 := newRuntimeIn(t, root, 0)
	c := cfg(t, "sh", "-c", "read x < /dev/null; sleep 30")
	if _, err := r1.Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	st := stateOf(t, c.StateDir)
	if st.ShimPID != supervisorPID(t, r1) || st.Supervisor == "" {
		t.Fatalf("state %+v does not name the supervisor", st)
	}
	r1.Close()

	r2 := newRuntimeIn(t, root, 0)
	adopted := adoptRunning(t, r2, c.StateDir)
	if pid := supervisorPID(t, r2); pid != st.ShimPID {
		t.Fatalf("second runtime's supervisor %d, want the running %d", pid, st.ShimPID)
	}
	c2 := cfg(t, "true")
	ctr2, err := r2.Start(context.Background(), c2)
	if err != nil {
		t.Fatal(err)
	}
	waitExit(t, ctr2)
	if got := stateOf(t, c2.StateDir).ShimPID; got != st.ShimPID {
		t.Fatalf("new container run by %d, want %d", got, st.ShimPID)
	}
	if err := adopted.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if exit := waitExit(t, adopted); exit.ExitCode != 143 || exit.Signal != 15 {
		t.Fatalf("adopted exit = %+v, want 143/15", exit)
	}
}

// TestSupervisorGoneIsUnknown: containers of a supervisor that vanished
// end as ContainerStatusUnknown, for the runtime that started them and
// for one adopting them later while a new supervisor answers the socket.
func TestSupervisorGoneIsUnknown(t *testing.T) {
	root := t.TempDir()
	r := newRuntimeIn(t, root, 0)
	c := cfg(t, "sleep", "30")
	ctr, err := r.Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	st := stateOf(t, c.StateDir)
	if err := syscall.Kill(st.ShimPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(st.ChildPID, syscall.SIGKILL)
	exit := waitExit(t, ctr)
	if exit.Reason != "ContainerStatusUnknown" || exit.ExitCode != 137 {
		t.Fatalf("exit = %+v, want ContainerStatusUnknown", exit)
	}
	waitGone(t, st.ShimPID)

	// The next start brings up a new supervisor on the same socket; it
	// knows nothing of the old container.
	next, err := r.Start(context.Background(), cfg(t, "true"))
	if err != nil {
		t.Fatal(err)
	}
	waitExit(t, next)
	if pid := supervisorPID(t, r); pid == st.ShimPID {
		t.Fatal("the killed supervisor still answers")
	}
	adopted, err := newRuntimeIn(t, root, 0).Adopt(c.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if exit := waitExit(t, adopted); exit.Reason != "ContainerStatusUnknown" {
		t.Fatalf("adopted exit = %+v, want ContainerStatusUnknown", exit)
	}
}

// TestSupervisorIdleExit: without containers or clients the supervisor
// exits by itself and removes its socket; a later start brings up another.
func TestSupervisorIdleExit(t *testing.T) {
	root := t.TempDir()
	r := newRuntimeIn(t, root, 200*time.Millisecond)
	ctr, err := r.Start(context.Background(), cfg(t, "true"))
	if err != nil {
		t.Fatal(err)
	}
	waitExit(t, ctr)
	pid := stateOf(t, ctr.(*container).dir).ShimPID
	waitGone(t, pid)
	key, err := r.supervisorKey()
	if err != nil {
		t.Fatal(err)
	}
	sock, _ := supervisorFiles(root, key)
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left behind: %v", err)
	}
	c := cfg(t, "sh", "-c", "exit 5")
	ctr, err = r.Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if exit := waitExit(t, ctr); exit.ExitCode != 5 {
		t.Fatalf("exit = %+v, want 5", exit)
	}
	if stateOf(t, c.StateDir).ShimPID == pid {
		t.Fatal("container run by the supervisor that exited")
	}
}

// TestSupervisorExitsWithItsDirectory: an idle supervisor whose root
// directory was removed cannot be reached again and exits without waiting
// out its idle time.
func TestSupervisorExitsWithItsDirectory(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	r := newRuntimeIn(t, root, time.Hour)
	ctr, err := r.Start(context.Background(), cfg(t, "true"))
	if err != nil {
		t.Fatal(err)
	}
	waitExit(t, ctr)
	pid := stateOf(t, ctr.(*container).dir).ShimPID
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
}

// TestSupervisorPerRoot: runtimes on different roots have supervisors of
// their own.
func TestSupervisorPerRoot(t *testing.T) {
	a, b := newRuntime(t), newRuntime(t)
	ca, cb := cfg(t, "true"), cfg(t, "true")
	for _, x := range []struct {
		r *Runtime
		c runtime.ContainerConfig
	}{{a, ca}, {b, cb}} {
		ctr, err := x.r.Start(context.Background(), x.c)
		if err != nil {
			t.Fatal(err)
		}
		waitExit(t, ctr)
	}
	pa, pb := stateOf(t, ca.StateDir).ShimPID, stateOf(t, cb.StateDir).ShimPID
	if pa == pb {
		t.Fatalf("both roots share supervisor %d", pa)
	}
	if pa != supervisorPID(t, a) || pb != supervisorPID(t, b) {
		t.Fatal("containers not run by their runtime's supervisor")
	}
}

// TestSupervisorReapsOrphans: a process a container leaves in a session
// of its own comes to the supervisor when its parent ends, and is reaped
// when it exits rather than left a zombie.
func TestSupervisorReapsOrphans(t *testing.T) {
	r := newRuntime(t)
	dir := t.TempDir()
	ready, release := filepath.Join(dir, "ready"), filepath.Join(dir, "release")
	// The main process waits until the orphan-to-be has left its process
	// group, which the group kill at the main process's end would reach.
	c := cfg(t, "sh", "-c", fmt.Sprintf(
		"setsid sh -c 'touch %[1]s; while [ ! -e %[2]s ]; do sleep 0.05; done' >/dev/null 2>&1 & while [ ! -e %[1]s ]; do sleep 0.05; done; echo $!",
		ready, release))
	ctr, err := r.Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if exit := waitExit(t, ctr); exit.ExitCode != 0 {
		t.Fatalf("exit = %+v", exit)
	}
	orphan, err := strconv.Atoi(strings.TrimSpace(readLog(t, c.LogPath)))
	if err != nil {
		t.Fatalf("log %q: %v", readLog(t, c.LogPath), err)
	}
	defer syscall.Kill(orphan, syscall.SIGKILL)
	sup := stateOf(t, c.StateDir).ShimPID
	eventually(t, "the orphan to be the supervisor's child", func() bool {
		return parentOf(orphan) == sup
	})
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitGone(t, orphan)
}

func parentOf(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("namespaces need root")
	}
}

func supInfoOf(t *testing.T, r *Runtime) supInfo {
	t.Helper()
	conn, err := r.dialSupervisor()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var info supInfo
	if _, err := request(conn, supRequest{Op: opInfo}, &info); err != nil {
		t.Fatal(err)
	}
	return info
}

// startForked starts c and checks that the supervisor's fork server
// made its process.
func startForked(t *testing.T, r *Runtime, c runtime.ContainerConfig) (runtime.Container, error) {
	t.Helper()
	before := supInfoOf(t, r)
	ctr, err := r.Start(context.Background(), c)
	after := supInfoOf(t, r)
	if after.Forked != before.Forked+1 || after.ForkServerPID == 0 {
		t.Fatalf("containers forked: %d before, %d after (fork server pid %d)", before.Forked, after.Forked, after.ForkServerPID)
	}
	return ctr, err
}

// sandboxed gives c fresh namespaces and a hostname.
func sandboxed(c runtime.ContainerConfig) runtime.ContainerConfig {
	c.Sandbox = &isolate.Spec{Namespaces: true, Hostname: "warm-pod"}
	return c
}

func TestForkServerRunsSandboxedContainer(t *testing.T) {
	requireRoot(t)
	r := newRuntime(t)
	sb := sandboxed

	t.Run("pid 1 and hostname", func(t *testing.T) {
		c := sb(cfg(t, "sh", "-c", "echo $$ $(hostname) $GREETING; exit 4"))
		ctr, err := startForked(t, r, c)
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
		ctr, err := startForked(t, r, c)
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
		ctr, err := startForked(t, r, c)
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
		_, err := startForked(t, r, sb(cfg(t, "no-such-command-xyz")))
		var se *runtime.StartError
		if !errors.As(err, &se) || !strings.Contains(se.Message, "no-such-command-xyz") {
			t.Fatalf("err = %v, want a StartError naming the command", err)
		}
	})
}

func TestStartRefusesUnsupportedSandbox(t *testing.T) {
	r := newRuntime(t)
	c := cfg(t, "true")
	c.Sandbox = &isolate.Spec{Hostname: "needs-uts"}
	_, err := r.Start(context.Background(), c)
	var ue *isolate.UnsupportedError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want an UnsupportedError", err)
	}
}

// TestAttemptLeftBeforeStartIsNotStarted: an attempt whose agent stopped
// after writing the spec and before the supervisor took it is reported as
// never started, and a start request for it that arrives late starts
// nothing, not even after a new attempt took its directory.
// TestAttemptWithoutSpecIsNotStarted: an agent killed between making an
// attempt's directory and writing its spec never asked for a start.
func TestAttemptWithoutSpecIsNotStarted(t *testing.T) {
	r := newRuntime(t)
	c := cfg(t, "true")
	if err := os.MkdirAll(c.StateDir, 0o750); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Adopt(c.StateDir); !errors.Is(err, runtime.ErrNotStarted) {
		t.Fatalf("Adopt of an attempt without spec = %v, want ErrNotStarted", err)
	}
}

func TestAttemptLeftBeforeStartIsNotStarted(t *testing.T) {
	r := newRuntime(t)
	marker := filepath.Join(t.TempDir(), "runs")
	c := cfg(t, "sh", "-c", "echo $ID >> "+marker)
	c.Env = append(c.Env, "ID=first")
	if err := os.MkdirAll(c.StateDir, 0o750); err != nil {
		t.Fatal(err)
	}
	late := spec{ID: c.ID, Argv: c.Argv, Env: c.Env, LogPath: c.LogPath}
	if err := writeJSON(c.StateDir, specFile, late); err != nil {
		t.Fatal(err)
	}
	lateData, err := json.Marshal(late)
	if err != nil {
		t.Fatal(err)
	}
	req := supRequest{Op: opStart, Dir: c.StateDir, Spec: lateData}
	// The late request comes over a connection of its own, as from an
	// earlier agent, and over the multiplexed one.
	lateStarts := map[string]func() error{
		"own connection": func() error {
			conn, err := r.dialSupervisor()
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_, err = request(conn, req, nil)
			return err
		},
		"multiplexed": func() error {
			_, err := r.startOnce(req)
			return err
		},
	}

	if _, err := newRuntime(t).Adopt(c.StateDir); !errors.Is(err, runtime.ErrNotStarted) {
		t.Fatalf("Adopt of an attempt never handed over = %v, want ErrNotStarted", err)
	}
	var refused *supRefusal
	for how, lateStart := range lateStarts {
		if err := lateStart(); !errors.As(err, &refused) {
			t.Fatalf("late start of a given-up attempt (%s) = %v, want a refusal", how, err)
		}
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the given-up attempt ran (marker: %v)", err)
	}

	// The agent makes the attempt anew in the same directory.
	if err := os.RemoveAll(c.StateDir); err != nil {
		t.Fatal(err)
	}
	again := c
	again.ID = "c2"
	again.Env = append(append([]string{}, cfg(t).Env...), "ID=second")
	ctr, err := r.Start(context.Background(), again)
	if err != nil {
		t.Fatal(err)
	}
	if exit := waitExit(t, ctr); exit.ExitCode != 0 {
		t.Fatalf("new attempt exit = %+v", exit)
	}
	for how, lateStart := range lateStarts {
		if err := lateStart(); !errors.As(err, &refused) {
			t.Fatalf("late start into a replaced attempt (%s) = %v, want a refusal", how, err)
		}
	}
	if got, err := os.ReadFile(marker); err != nil || string(got) != "second\n" {
		t.Fatalf("runs = %q (%v), want only the new attempt", got, err)
	}
}

// TestAdoptWaitsForAStartUnderWay: an attempt the supervisor claimed but
// has not recorded yet is adopted once its state appears.
func TestAdoptWaitsForAStartUnderWay(t *testing.T) {
	r := newRuntime(t)
	c := cfg(t, "sh", "-c", "read x < /dev/null; sleep 30")
	if _, err := r.Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	// Hide the state as if the supervisor were still starting the process.
	statePath := filepath.Join(c.StateDir, stateFile)
	hidden := statePath + ".hidden"
	if err := os.Rename(statePath, hidden); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		_ = os.Rename(hidden, statePath)
	}()
	adopted := adoptRunning(t, newRuntime(t), c.StateDir)
	if err := adopted.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if exit := waitExit(t, adopted); exit.ExitCode != 137 {
		t.Fatalf("adopted exit = %+v, want 137", exit)
	}
}

func TestKilledForkServerIsReplaced(t *testing.T) {
	requireRoot(t)
	r := newRuntime(t)
	ctr, err := startForked(t, r, sandboxed(cfg(t, "true")))
	if err != nil {
		t.Fatal(err)
	}
	waitExit(t, ctr)
	first := supInfoOf(t, r).ForkServerPID
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c := sandboxed(cfg(t, "hostname"))
	ctr, err = startForked(t, r, c)
	if err != nil {
		t.Fatal(err)
	}
	if exit := waitExit(t, ctr); exit.ExitCode != 0 {
		t.Fatalf("exit = %+v, log %q", exit, readLog(t, c.LogPath))
	}
	if got := readLog(t, c.LogPath); got != "warm-pod\n" {
		t.Fatalf("log = %q", got)
	}
	if now := supInfoOf(t, r).ForkServerPID; now == first {
		t.Fatalf("fork server pid still %d after it was killed", now)
	}
}

func TestWithoutForkServerEachContainerHasItsInitStep(t *testing.T) {
	requireRoot(t)
	r, err := New(Options{Root: t.TempDir(), NoForkServer: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopSupervisor(t, r) })
	c := sandboxed(cfg(t, "sh", "-c", "echo $$ $(hostname)"))
	ctr, err := r.Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if exit := waitExit(t, ctr); exit.ExitCode != 0 {
		t.Fatalf("exit = %+v", exit)
	}
	if got := readLog(t, c.LogPath); got != "1 warm-pod\n" {
		t.Fatalf("log = %q", got)
	}
	if info := supInfoOf(t, r); info.Forked != 0 || info.ForkServerPID != 0 {
		t.Fatalf("fork server used although disabled: %+v", info)
	}
}

// TestForkServerTriedAgainAfterAFailedStart: a fork server that cannot
// start leaves containers to init steps of their own for a while, not for
// good; the next try after that starts one.
func TestForkServerTriedAgainAfterAFailedStart(t *testing.T) {
	saved := initArgv
	t.Cleanup(func() { initArgv = saved })
	initArgv = []string{"/bin/false"}
	// A reaper that reaps nothing: the test process's children are its
	// tests' to wait for.
	fs := newForkServers(true, &reaper{waiters: map[int]chan reapResult{}, unclaimed: map[int]unclaimed{}})
	if f := fs.server(); f != nil {
		t.Fatalf("a fork server from %v", initArgv)
	}
	if !fs.retryAt.After(time.Now()) {
		t.Fatalf("retry at %v after a failed start, want later than now", fs.retryAt)
	}
	initArgv = saved
	if f := fs.server(); f != nil {
		t.Fatal("a fork server started before the retry time")
	}
	fs.mu.Lock()
	fs.retryAt = time.Now().Add(-time.Second)
	fs.mu.Unlock()
	f := fs.server()
	if f == nil {
		t.Fatal("no fork server once the retry time passed")
	}
	fs.close()
	if _, err := f.Process().Wait(); err != nil {
		t.Fatal(err)
	}
}
