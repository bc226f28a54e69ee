package process

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/batchlet/batchlet/internal/runtime"
	"github.com/batchlet/batchlet/internal/runtime/sandbox/isolate"
	"github.com/batchlet/batchlet/internal/testutil"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func startInteractive(t *testing.T, c runtime.ContainerConfig) runtime.Interactive {
	t.Helper()
	ctr, err := newRuntime(t).Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = ctr.Signal(syscall.SIGKILL)
		<-ctr.Done()
	})
	return ctr.(runtime.Interactive)
}

func TestExecRunsInContainerEnvironment(t *testing.T) {
	c := cfg(t, "sleep", "30")
	c.WorkingDir = "/tmp"
	ia := startInteractive(t, c)
	tests := []struct {
		name   string
		argv   []string
		stdin  string
		code   int
		stdout string
		stderr string
	}{
		{"env and dir", []string{"sh", "-c", "echo $GREETING; pwd; echo err >&2"}, "", 0, "hello\n/tmp\n", "err\n"},
		{"exit code", []string{"sh", "-c", "exit 7"}, "", 7, "", ""},
		{"stdin", []string{"cat"}, "some input", 0, "some input", ""},
		{"same process group", []string{"sh", "-c", "ps -o pgid= -p $$ | tr -d ' '; ps -o pgid= -p $PPID | tr -d ' '"}, "", 0, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb testutil.SyncBuffer
			s := runtime.Streams{Stdout: &out, Stderr: &errb}
			if tc.stdin != "" {
				s.Stdin = strings.NewReader(tc.stdin)
			}
			code, err := ia.Exec(context.Background(), tc.argv, s)
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "same process group" {
				var st state
				if err := readJSON(c.StateDir, stateFile, &st); err != nil {
					t.Fatal(err)
				}
				if first, _, _ := strings.Cut(out.String(), "\n"); first != strconv.Itoa(st.ChildPID) {
					t.Fatalf("exec pgid = %q, container pid %d", out.String(), st.ChildPID)
				}
				return
			}
			if code != tc.code || out.String() != tc.stdout || errb.String() != tc.stderr {
				t.Fatalf("code %d stdout %q stderr %q", code, out.String(), errb.String())
			}
		})
	}
	if _, err := ia.Exec(context.Background(), []string{"no-such-tool"}, runtime.Streams{Stdout: io.Discard}); err == nil ||
		!strings.Contains(err.Error(), `"no-such-tool": executable file not found in $PATH`) {
		t.Fatalf("missing command err = %v", err)
	}
}

func TestExecWithTerminal(t *testing.T) {
	ia := startInteractive(t, cfg(t, "sleep", "30"))
	var out testutil.SyncBuffer
	inR, inW := io.Pipe()
	resize := make(chan runtime.TerminalSize, 1)
	resize <- runtime.TerminalSize{Width: 91, Height: 33}
	done := make(chan int, 1)
	go func() {
		code, err := ia.Exec(context.Background(), []string{"sh"}, runtime.Streams{Stdin: inR, Stdout: &out, TTY: true, Resize: resize})
		if err != nil {
			t.Error(err)
		}
		done <- code
	}()
	// The size arrives before the command runs or soon after: poll.
	waitFor(t, "terminal size", func() bool {
		_, _ = io.WriteString(inW, "[ -t 0 ] && stty size\n")
		time.Sleep(20 * time.Millisecond)
		return strings.Contains(out.String(), "33 91")
	})
	_, _ = io.WriteString(inW, "exit 4\n")
	select {
	case code := <-done:
		if code != 4 {
			t.Fatalf("code = %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("exec did not end")
	}
}

func TestAttachStdinOnce(t *testing.T) {
	c := cfg(t, "sh", "-c", "while read line; do echo got $line; done; echo eof")
	c.Stdin, c.StdinOnce = true, true
	ctr, err := newRuntime(t).Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	var out testutil.SyncBuffer
	err = ctr.(runtime.Interactive).Attach(context.Background(), runtime.Streams{Stdin: strings.NewReader("a\nb\n"), Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if exit := waitExit(t, ctr); exit.ExitCode != 0 {
		t.Fatalf("exit = %+v", exit)
	}
	if got := out.String(); got != "got a\ngot b\neof\n" {
		t.Fatalf("attached output = %q", got)
	}
	if got := readLog(t, c.LogPath); got != "got a\ngot b\neof\n" {
		t.Fatalf("log = %q", got)
	}
}

func TestAttachTerminal(t *testing.T) {
	c := cfg(t, "sh")
	c.Stdin, c.StdinOnce, c.TTY = true, true, true
	ctr, err := newRuntime(t).Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	var out testutil.SyncBuffer
	inR, inW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- ctr.(runtime.Interactive).Attach(context.Background(), runtime.Streams{Stdin: inR, Stdout: &out, TTY: true})
	}()
	waitFor(t, "echo through the terminal", func() bool {
		_, _ = io.WriteString(inW, "echo hi-$((6*7))\n")
		time.Sleep(20 * time.Millisecond)
		return strings.Contains(out.String(), "hi-42")
	})
	_, _ = io.WriteString(inW, "exit 3\n")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if exit := waitExit(t, ctr); exit.ExitCode != 3 {
		t.Fatalf("exit = %+v", exit)
	}
}

// TestSessionsGoThroughTheSupervisor: a running container has no socket
// of its own in its state directory; exec reaches it through the
// supervisor, and a session with an ended container is refused.
func TestSessionsGoThroughTheSupervisor(t *testing.T) {
	c := cfg(t, "sleep", "30")
	ctr, err := newRuntime(t).Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.StateDir, socketFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("container socket in the state directory: %v", err)
	}
	var out testutil.SyncBuffer
	code, err := ctr.(runtime.Interactive).Exec(context.Background(), []string{"echo", "in"}, runtime.Streams{Stdout: &out})
	if err != nil || code != 0 || out.String() != "in\n" {
		t.Fatalf("exec: code %d, output %q, err %v", code, out.String(), err)
	}
	if err := ctr.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-ctr.Done()
	_, err = ctr.(runtime.Interactive).Exec(context.Background(), []string{"true"}, runtime.Streams{})
	if !errors.Is(err, errNoShim) {
		t.Fatalf("exec in an ended container: %v, want errNoShim", err)
	}
}

// TestSessionWithAnEarlierSupervisor: a supervisor that does not know
// opSession refuses it, and the session goes to the container's own
// socket, as earlier supervisors served it.
func TestSessionWithAnEarlierSupervisor(t *testing.T) {
	dir := t.TempDir()
	sup, err := listenSocket(filepath.Join(dir, "supervisor.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Close()
	go func() {
		for {
			conn, err := sup.Accept()
			if err != nil {
				return
			}
			if kind, _, err := readFrame(conn); err == nil && kind == supFrameRequest {
				_ = (&frameWriter{w: conn}).write(supFrameError, []byte(`unknown request "session"`))
			}
			conn.Close()
		}
	}()
	own, err := listenSocket(filepath.Join(dir, socketFile))
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	go func() {
		if conn, err := own.Accept(); err == nil {
			_, _ = conn.Write([]byte("own socket"))
			conn.Close()
		}
	}()
	c := newContainer(dir, state{ID: "old", Supervisor: filepath.Join(dir, "supervisor.sock")})
	conn, err := c.dialSession()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got, err := io.ReadAll(conn); err != nil || string(got) != "own socket" {
		t.Fatalf("read %q, %v; want the container's own socket", got, err)
	}
}

// TestExecHasTheContainersCapabilities: an exec session gets the
// capability set of the container it joins, as under runc, not the
// supervisor's, whatever setpriv the container's PATH finds first.
func TestExecHasTheContainersCapabilities(t *testing.T) {
	requireRoot(t)
	decoy := t.TempDir()
	if err := os.WriteFile(filepath.Join(decoy, "setpriv"), []byte("#!/bin/sh\necho not util-linux >&2; exit 99\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	const netRaw, kill = 1 << 13, 1 << 5
	for _, tc := range []struct {
		name string
		sp   *isolate.Spec
		want string
	}{
		{"limited, namespaces", &isolate.Spec{Namespaces: true, Hostname: "caps", LimitCapabilities: true, Capabilities: netRaw | kill}, "0000000000002020"},
		{"none, namespaces", &isolate.Spec{Namespaces: true, Hostname: "caps", LimitCapabilities: true}, "0000000000000000"},
		{"limited, host", &isolate.Spec{LimitCapabilities: true, Capabilities: kill}, "0000000000000020"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg(t, "sleep", "30")
			c.Env = append(c.Env, "PATH="+decoy+":/usr/sbin:/usr/bin:/sbin:/bin")
			c.Sandbox = tc.sp
			ia := startInteractive(t, c)
			var out, errb testutil.SyncBuffer
			code, err := ia.Exec(context.Background(), []string{"sh", "-c", "grep -E '^Cap(Bnd|Eff|Prm)' /proc/self/status"},
				runtime.Streams{Stdout: &out, Stderr: &errb})
			if err != nil || code != 0 {
				t.Fatalf("exec: code %d, %v (stderr %q)", code, err, errb.String())
			}
			for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				if _, v, _ := strings.Cut(line, ":"); strings.TrimSpace(v) != tc.want {
					t.Errorf("%s, want %s", line, tc.want)
				}
			}
		})
	}
}
