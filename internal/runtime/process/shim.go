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

	"github.com/batchlet/batchlet/internal/runtime/logfile"
	"github.com/batchlet/batchlet/internal/runtime/sandbox"
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
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: runtime-shim STATE_DIR")
		return 2
	}
	// Stay alive through terminal and termination signals aimed at the
	// agent; handled (not ignored) signals reset to default in the child.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE)
	if err := runShim(args[0]); err != nil {
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

func runShim(dir string) error {
	ready := os.NewFile(3, "ready")
	if ready != nil {
		syscall.CloseOnExec(3)
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
	var setup *sandbox.Setup
	if sp.Sandbox != nil {
		if setup, err = wrapSandbox(cmd, *sp.Sandbox); err != nil {
			stdio.closeAll()
			return reportStartError(dir, &st, err.Error())
		}
	}
	if err := cmd.Start(); err != nil {
		if setup != nil {
			setup.Abort()
		}
		stdio.closeAll()
		return reportStartError(dir, &st, startMessage(err, sp))
	}
	if setup != nil {
		if err := setup.Wait(); err != nil {
			// The init step exits by itself after reporting.
			_ = cmd.Wait()
			stdio.closeAll()
			return reportStartError(dir, &st, err.Error())
		}
	}
	st.StartedAt = time.Now()
	stdio.closeChildEnds()
	st.ChildPID = cmd.Process.Pid
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

	waitErr := cmd.Wait()
	finished := time.Now()
	// The container ends with its main process: whatever it left behind in
	// its process group goes with it.
	_ = syscall.Kill(-st.ChildPID, syscall.SIGKILL)
	stdio.drain(time.Now().Add(drainTimeout))
	copies.Wait()
	stdio.closeAll()
	sess.finish()
	rec := exitRecord{FinishedAt: finished}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
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
func wrapSandbox(cmd *exec.Cmd, sp sandbox.Spec) (*sandbox.Setup, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("locating the shim executable for the sandbox init: %w", err)
	}
	setup, err := sandbox.Wrap(cmd, sp, []string{exe, sandbox.InitSubcommand})
	if err != nil {
		return nil, fmt.Errorf("failed to create the container sandbox: %w", err)
	}
	return setup, nil
}
