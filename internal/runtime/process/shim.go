package process

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/batchlet/batchlet/internal/fsutil"
	"github.com/batchlet/batchlet/internal/runtime/sandbox/isolate"
)

// ShimSubcommand is the hidden first argument with which the runtime
// re-executes its own binary (or the shim binary) as the supervisor of its
// containers; the binary's main must hand the remaining arguments to
// ShimMain.
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

// SuperviseArg is the argument after ShimSubcommand that runs a node's
// supervisor (supervisor.go).
const SuperviseArg = "supervise"

// ShimMain is the shim binary's entry: "supervise ..." runs the
// supervisor that starts and follows containers, "pause" the built-in
// pause.
func ShimMain(args []string) int {
	if len(args) == 1 && args[0] == "pause" {
		return pause()
	}
	if len(args) > 0 && args[0] == SuperviseArg {
		return superviseMain(args[1:])
	}
	fmt.Fprintln(os.Stderr, "usage: "+ShimSubcommand+" "+SuperviseArg+" --root DIR --key KEY [flags] | "+ShimSubcommand+" pause")
	return 2
}

func pause() int {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	<-ch
	return 0
}

// startProcess starts cmd, through the sandbox init step when sp asks
// for one: forked by the fork server when one runs, else a fresh one. It
// returns once the container's command runs, with its process and the
// channel its status arrives on.
func startProcess(cmd *exec.Cmd, sp spec, r *reaper, forks *forkServers) (*os.Process, <-chan reapResult, error) {
	if sp.Sandbox == nil {
		if err := cmd.Start(); err != nil {
			return nil, nil, errors.New(startMessage(err, sp))
		}
		return cmd.Process, r.watch(cmd.Process), nil
	}
	proc, err := forks.run(cmd, *sp.Sandbox)
	switch {
	case proc != nil:
		exited := r.watch(proc)
		if err != nil {
			// The init step exits by itself after reporting.
			<-exited
			_ = proc.Release()
			return nil, nil, err
		}
		return proc, exited, nil
	case !errors.Is(err, errNoForkServer):
		return nil, nil, err
	}
	setup, err := wrapSandbox(cmd, *sp.Sandbox)
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		setup.Abort()
		return nil, nil, errors.New(startMessage(err, sp))
	}
	exited := r.watch(cmd.Process)
	if err := setup.Wait(); err != nil {
		<-exited
		_ = cmd.Process.Release()
		return nil, nil, err
	}
	return cmd.Process, exited, nil
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

// reportStartError records a start error: state.json says why, exit.json
// how it ended. It returns the exit and both files' contents.
func reportStartError(dir string, st *state, msg string) (rec exitRecord, stData, exitData []byte, err error) {
	st.StartError = msg
	rec = exitRecord{ExitCode: 128, Reason: "StartError", Message: msg, FinishedAt: time.Now()}
	if stData, err = writeJSONData(dir, stateFile, st); err != nil {
		return rec, stData, nil, err
	}
	exitData, err = writeJSONData(dir, exitFile, rec)
	return rec, stData, exitData, err
}

// logDir makes sure the directory of a log path exists.
func logDir(path string) error {
	return fsutil.MkdirAll(filepath.Dir(path), 0o750)
}

// initArgv runs the sandbox init step from this very binary (the shim
// binary routes the init subcommand too). /proc/self/exe stays this
// binary even when an upgrade has replaced the file.
var initArgv = []string{"/proc/self/exe", isolate.InitSubcommand}

// wrapSandbox routes cmd through a fresh sandbox init step.
func wrapSandbox(cmd *exec.Cmd, sp isolate.Spec) (*isolate.Setup, error) {
	setup, err := isolate.Wrap(cmd, sp, initArgv)
	if err != nil {
		return nil, fmt.Errorf("failed to create the container sandbox: %w", err)
	}
	return setup, nil
}
