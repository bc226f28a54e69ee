package process

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/batchlet/batchlet/internal/runtime/logfile"
	"github.com/batchlet/batchlet/internal/runtime/sandbox/isolate"
)

// ShimSubcommand is the hidden first argument with which the runtime
// re-executes its own binary as a container's shim; the binary's main must
// hand the remaining arguments to ShimMain.
const ShimSubcommand = "runtime-shim"

// PauseCommand is the argv[0] the pause image profile uses: when no such
// file exists, the shim runs its own built-in pause.
const PauseCommand = "/pause"

// pauseScript is the built-in pause: it waits until SIGTERM or SIGINT and
// then exits 0, as the pause image does.
const pauseScript = "trap 'exit 0' TERM INT; while :; do sleep 2147483647 & wait $!; done"

// drainTimeout bounds how long output is still collected after the
// container's main process has ended.
const drainTimeout = 2 * time.Second

// ShimMain is the shim: it starts one container process in its own process
// group, copies its output to the log file, waits for it and records how it
// ended in the state directory. It runs in its own session so that it, and
// the container, outlive the agent. args is the state directory, or "pause".
func ShimMain(args []string) int {
	if len(args) == 1 && args[0] == "pause" {
		return pause()
	}
	standby := len(args) == 2 && args[0] == standbyArg
	if len(args) != 1 && !standby {
		fmt.Fprintln(os.Stderr, "usage: runtime-shim STATE_DIR | runtime-shim "+standbyArg+" KIND")
		return 2
	}
	// Stay alive through terminal and termination signals aimed at the
	// agent; handled (not ignored) signals reset to default in the child.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE)
	// Each descriptor gets exactly one *os.File: a second one would close
	// it (or whatever reuses its number) when collected.
	var dir string
	var ready *os.File
	var pending *isolate.Pending
	if !standby {
		dir, ready = args[0], os.NewFile(3, "ready")
	} else {
		// Neither pipe may leak into the init step or the container.
		syscall.CloseOnExec(3)
		syscall.CloseOnExec(4)
		// The init step of a sandboxed container starts now, while no
		// container waits for it.
		pending = prestart(args[1])
		var ok bool
		if dir, ok = awaitContainer(os.NewFile(3, "control")); !ok {
			if pending != nil {
				pending.Release()
			}
			return 0
		}
		ready = os.NewFile(4, "ready")
		redirectOutput(filepath.Join(dir, "shim.log"))
	}
	if err := runShim(dir, ready, pending); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func pause() int {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	<-ch
	return 0
}

// prestart starts the sandbox init step a standby shim of kind prepares,
// or returns nil when its containers need none or it cannot be started
// (the container then starts the usual way and reports what fails).
func prestart(kind string) *isolate.Pending {
	if kind != kindInit && kind != kindNamespace {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	p, err := isolate.Prestart([]string{exe, isolate.InitSubcommand}, kind == kindNamespace)
	if err != nil {
		return nil
	}
	return p
}

// redirectOutput sends the shim's own stdout and stderr to path.
func redirectOutput(path string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return
	}
	defer f.Close()
	_ = unix.Dup3(int(f.Fd()), 1, 0)
	_ = unix.Dup3(int(f.Fd()), 2, 0)
}

func runShim(dir string, ready *os.File, pending *isolate.Pending) error {
	defer func() {
		if pending != nil {
			pending.Release()
		}
	}()
	if ready != nil {
		syscall.CloseOnExec(int(ready.Fd()))
		defer ready.Close()
	}
	var sp spec
	if err := readJSON(dir, specFile, &sp); err != nil {
		return fmt.Errorf("reading spec: %w", err)
	}
	st := state{ID: sp.ID, ShimPID: os.Getpid()}
	st.ShimStart, _ = procStartTime(st.ShimPID)

	logFile, err := os.OpenFile(sp.LogPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return reportStartError(dir, &st, fmt.Sprintf("opening log file: %v", err))
	}
	defer logFile.Close()

	cmd, err := buildCommand(sp)
	if err != nil {
		return reportStartError(dir, &st, err.Error())
	}
	sess := newSessions(sp)
	stdio, err := connectStdio(cmd, sp, sess)
	if err != nil {
		return reportStartError(dir, &st, err.Error())
	}
	proc, err := startContainer(cmd, sp, pending)
	pending = nil
	if err != nil {
		stdio.closeAll()
		return reportStartError(dir, &st, err.Error())
	}
	st.StartedAt = time.Now()
	stdio.closeChildEnds()
	st.ChildPID = proc.Pid
	sess.pgid, sess.joinable = st.ChildPID, !sp.TTY
	lw := logfile.NewWriter(logFile, nil)
	var copies sync.WaitGroup
	for _, o := range stdio.outputs {
		copies.Add(1)
		go func() {
			defer copies.Done()
			_ = lw.Copy(o.stream, stdioReader(o.r, fanoutStream{&sess.out, o.kind}))
		}()
	}
	ln, lnErr := listenShim(dir)
	if lnErr != nil {
		fmt.Fprintln(os.Stderr, lnErr)
	} else {
		defer ln.Close()
		go sess.serve(ln)
	}
	if err := writeJSON(dir, stateFile, st); err != nil {
		_ = syscall.Kill(-st.ChildPID, syscall.SIGKILL)
	}
	if ready != nil {
		ready.Close()
	}

	ps, waitErr := proc.Wait()
	finished := time.Now()
	// The container ends with its main process: whatever it left behind in
	// its process group goes with it.
	_ = syscall.Kill(-st.ChildPID, syscall.SIGKILL)
	stdio.drain(time.Now().Add(drainTimeout))
	copies.Wait()
	stdio.closeAll()
	sess.finish()
	rec := exitRecord{FinishedAt: finished}
	if ws, ok := waitStatus(ps); ok {
		switch {
		case ws.Signaled():
			rec.Signal = int32(ws.Signal())
			rec.ExitCode = 128 + rec.Signal
		default:
			rec.ExitCode = int32(ws.ExitStatus())
		}
	} else if waitErr != nil {
		rec.ExitCode, rec.Reason, rec.Message = 137, "ContainerStatusUnknown", waitErr.Error()
	}
	return writeJSON(dir, exitFile, rec)
}

// startContainer starts cmd, through the sandbox init step when sp asks
// for a sandbox: pending when it suits, else a fresh one. It returns once
// the container's command runs, with its process to wait for.
func startContainer(cmd *exec.Cmd, sp spec, pending *isolate.Pending) (*os.Process, error) {
	if pending != nil && (sp.Sandbox == nil || pending.Namespaces() != sp.Sandbox.Namespaces) {
		pending.Release()
		pending = nil
	}
	if sp.Sandbox == nil {
		if err := cmd.Start(); err != nil {
			return nil, errors.New(startMessage(err, sp))
		}
		return cmd.Process, nil
	}
	if pending != nil {
		proc, err := pending.Run(cmd, *sp.Sandbox)
		if err != nil {
			_, _ = proc.Wait()
			return nil, err
		}
		return proc, nil
	}
	setup, err := wrapSandbox(cmd, *sp.Sandbox)
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		setup.Abort()
		return nil, errors.New(startMessage(err, sp))
	}
	if err := setup.Wait(); err != nil {
		// The init step exits by itself after reporting.
		_, _ = cmd.Process.Wait()
		return nil, err
	}
	return cmd.Process, nil
}

// waitStatus is how a reaped process ended.
func waitStatus(ps *os.ProcessState) (syscall.WaitStatus, bool) {
	if ps == nil {
		return 0, false
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	return ws, ok
}

func buildCommand(sp spec) (*exec.Cmd, error) {
	if len(sp.Argv) == 0 || sp.Argv[0] == "" {
		return nil, errors.New("no command specified")
	}
	argv := sp.Argv
	path, err := lookPath(argv[0], sp.Env, sp.WorkingDir)
	if err != nil && argv[0] == PauseCommand {
		// A shell waiting on a signal: far cheaper than starting this
		// binary again.
		argv = []string{"/bin/sh", "-c", pauseScript}
		path, err = "/bin/sh", nil
	}
	if err != nil && sp.Sandbox != nil && sp.Sandbox.Namespaces {
		// The command may exist only in the sandbox's view (a volume); the
		// init step resolves it there and reports if it does not.
		path, err = "", nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: %w", err)
	}
	env := sp.Env
	if env == nil {
		env = []string{}
	}
	return &exec.Cmd{
		Path:        path,
		Args:        argv,
		Env:         env,
		Dir:         sp.WorkingDir,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}, nil
}

func startMessage(err error, sp spec) string {
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Op == "chdir" {
		return fmt.Sprintf("failed to start container process: chdir to cwd (%q) set in config.json failed: %v", sp.WorkingDir, pe.Err)
	}
	return fmt.Sprintf("failed to start container process: %v", err)
}

func reportStartError(dir string, st *state, msg string) error {
	st.StartError = msg
	if err := writeJSON(dir, stateFile, st); err != nil {
		return err
	}
	return writeJSON(dir, exitFile, exitRecord{ExitCode: 128, Reason: "StartError", Message: msg, FinishedAt: time.Now()})
}

// logDir makes sure the directory of a log path exists.
func logDir(path string) error {
	return os.MkdirAll(filepath.Dir(path), 0o750)
}

// wrapSandbox routes cmd through the sandbox init step, run by this very
// binary (the shim binary routes the init subcommand too).
func wrapSandbox(cmd *exec.Cmd, sp isolate.Spec) (*isolate.Setup, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("locating the shim executable for the sandbox init: %w", err)
	}
	setup, err := isolate.Wrap(cmd, sp, []string{exe, isolate.InitSubcommand})
	if err != nil {
		return nil, fmt.Errorf("failed to create the container sandbox: %w", err)
	}
	return setup, nil
}
