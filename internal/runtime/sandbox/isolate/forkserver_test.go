package isolate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startForkServer starts a fork server for the test and stops it at the
// end; the Go init step has none, so those runs skip.
func startForkServer(t testing.TB) *ForkServer {
	t.Helper()
	if useGoInit {
		t.Skip("the Go init step serves no forks")
	}
	f, err := StartForkServer(initArgv())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		_ = f.cmd.Wait()
	})
	return f
}

// runForked runs script through f and returns its output, wait status
// and Run's error.
func runForked(t *testing.T, f *ForkServer, sp Spec, script string) (string, syscall.WaitStatus, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "MARK=x"}
	cmd.Stdout, cmd.Stderr = w, w
	proc, runErr := f.Run(cmd, sp)
	w.Close()
	if proc == nil {
		return "", 0, runErr
	}
	ps, err := proc.Wait()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(r)
	return string(out), ps.Sys().(syscall.WaitStatus), runErr
}

func TestForkServerRunsContainerInFreshNamespaces(t *testing.T) {
	requireNamespaces(t)
	f := startForkServer(t)
	target := hostTarget(t)
	sp := Spec{Namespaces: true, Hostname: "forked-pod", ScratchDir: scratch(t),
		Mounts: []Mount{{Source: t.TempDir(), Target: target}}}
	out, ws, err := runForked(t, f, sp, "echo $$ $(hostname) $MARK; test -d "+target+" && echo mounted; exit 5")
	if err != nil {
		t.Fatal(err)
	}
	if out != "1 forked-pod x\nmounted\n" || ws.ExitStatus() != 5 {
		t.Fatalf("output %q, exit %d", out, ws.ExitStatus())
	}
	if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("mount target %s visible on the host: %v", target, err)
	}
}

func TestForkServerChildIsTheCallersAndLeadsItsGroup(t *testing.T) {
	f := startForkServer(t)
	// Fields 4 and 5 of /proc/PID/stat: parent pid and process group.
	out, ws, err := runForked(t, f, Spec{}, `cut -d' ' -f4,5 /proc/$$/stat; echo $$`)
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(out)
	if len(fields) != 3 || ws.ExitStatus() != 0 {
		t.Fatalf("output %q, exit %d", out, ws.ExitStatus())
	}
	if fields[0] != strconv.Itoa(os.Getpid()) {
		t.Errorf("parent of the container is %s, want the caller %d (not the server %d)", fields[0], os.Getpid(), f.Pid())
	}
	if fields[1] != fields[2] {
		t.Errorf("process group %s, want the container's own %s", fields[1], fields[2])
	}
}

func TestForkServerReportsSetupError(t *testing.T) {
	requireNamespaces(t)
	f := startForkServer(t)
	cmd := &exec.Cmd{Args: []string{"no-such-command-xyz"}, Env: []string{"PATH=/bin"}}
	proc, err := f.Run(cmd, Spec{Namespaces: true})
	var se *SetupError
	if !errors.As(err, &se) || !strings.Contains(se.Message, `"no-such-command-xyz"`) || !strings.Contains(se.Message, "not found in $PATH") {
		t.Fatalf("err = %v, want a SetupError naming the command", err)
	}
	if proc == nil {
		t.Fatal("no process returned with the setup error: nothing would reap it")
	}
	ps, err := proc.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if ps.ExitCode() != 128 {
		t.Fatalf("failed init step exited %d, want 128", ps.ExitCode())
	}
	// The server goes on serving.
	out, _, err := runForked(t, f, Spec{}, "echo still")
	if err != nil || out != "still\n" {
		t.Fatalf("after a setup error: output %q, err %v", out, err)
	}
}

func TestForkServerServesConcurrentRequests(t *testing.T) {
	requireNamespaces(t)
	f := startForkServer(t)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			host := fmt.Sprintf("pod-%d", i)
			out, ws, err := runForked(t, f, Spec{Namespaces: true, Hostname: host}, "hostname; exit "+strconv.Itoa(i))
			switch {
			case err != nil:
				errs <- fmt.Errorf("container %d: %w", i, err)
			case out != host+"\n" || ws.ExitStatus() != i:
				errs <- fmt.Errorf("container %d: output %q, exit %d", i, out, ws.ExitStatus())
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestForkServerGoneAfterClose(t *testing.T) {
	f := startForkServer(t)
	f.Close()
	if err := f.cmd.Wait(); err != nil {
		t.Fatalf("closed fork server ended with %v, want exit 0", err)
	}
	_, _, err := runForked(t, f, Spec{}, "true")
	if !errors.Is(err, ErrForkServerGone) {
		t.Fatalf("Run after Close: %v, want ErrForkServerGone", err)
	}
}

func TestForkServerKilledIsGone(t *testing.T) {
	f := startForkServer(t)
	if err := f.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = f.cmd.Wait()
	_, _, err := runForked(t, f, Spec{}, "true")
	if !errors.Is(err, ErrForkServerGone) {
		t.Fatalf("Run on a killed server: %v, want ErrForkServerGone", err)
	}
}

func TestGoInitStepServesNoForks(t *testing.T) {
	_, err := StartForkServer([]string{os.Args[0], goInitSubcommand})
	if err == nil || !strings.Contains(err.Error(), "exited without serving") {
		t.Fatalf("fork server from the Go init step: %v, want it refused", err)
	}
}

// A child whose setup hangs (here: joining a "cgroup" that is a FIFO
// nobody reads yet) holds up the server, not its own answer: its request
// gets the pid at once, the next request gives the server up after the
// timeout, and the hung child still runs once its setup goes on.
func TestForkServerGivenUpBehindAHungSetup(t *testing.T) {
	f := startForkServer(t)
	saved := forkAnswerTimeout
	forkAnswerTimeout = 300 * time.Millisecond
	t.Cleanup(func() { forkAnswerTimeout = saved })
	fifo := filepath.Join(t.TempDir(), "cgroup.procs")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	type result struct {
		proc *os.Process
		err  error
	}
	hung := make(chan result, 1)
	go func() {
		cmd := exec.Command("/bin/true")
		cmd.Env = []string{}
		proc, err := f.Run(cmd, Spec{CgroupProcs: []string{fifo}})
		hung <- result{proc, err}
	}()
	// The hung child's answer comes first, then the next request waits.
	for deadline := time.Now().Add(10 * time.Second); f.Started() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no answer for the container whose setup hangs")
		}
	}
	_, _, err := runForked(t, f, Spec{}, "true")
	if !errors.Is(err, ErrForkServerGone) {
		t.Fatalf("request behind a hung setup: %v, want ErrForkServerGone", err)
	}
	_ = f.cmd.Wait()
	if f.cmd.ProcessState.Success() {
		t.Fatal("the fork server was not killed")
	}
	// Reading the FIFO lets the hung setup go on to its exec.
	r, err := os.Open(fifo)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res := <-hung
	if res.err != nil || res.proc == nil {
		t.Fatalf("hung container: process %v, err %v", res.proc, res.err)
	}
	ps, err := res.proc.Wait()
	if err != nil || !ps.Success() {
		t.Fatalf("hung container ended with %v, %v", ps, err)
	}
}
