// Package process is the runtime that runs containers as host process
// groups. Each attempt is supervised by a small shim (this binary,
// re-executed with ShimSubcommand) in its own session, so containers outlive
// the agent and their exit status is recorded even while it is down.
package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/batchlet/batchlet/internal/runtime"
	"github.com/batchlet/batchlet/internal/runtime/sandbox/isolate"
)

// Options configure the runtime.
type Options struct {
	// ShimCommand is the argv prefix that runs ShimMain; the state
	// directory is appended. Default: this executable and ShimSubcommand.
	ShimCommand []string
	// Standby is how many shims of each kind are kept started ahead of
	// need (see standby.go); 0 means the default, negative none.
	Standby int
	// StandbyIdle is how long an unused standby shim is kept; 0 means the
	// default.
	StandbyIdle time.Duration
}

// ShimBinary is the name of the optional dedicated shim binary, looked for
// next to the running executable; its main hands os.Args[2:] to ShimMain.
const ShimBinary = "batchlet-shim"

// Runtime runs containers as host processes.
type Runtime struct {
	shim []string
	pool *shimPool
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns a process runtime.
func New(opts Options) (*Runtime, error) {
	shim := opts.ShimCommand
	if len(shim) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("locating own executable for the shim: %w", err)
		}
		shim = []string{exe, ShimSubcommand}
		// A dedicated shim binary next to this one starts in a fraction of
		// the time and memory of the whole program.
		if small := filepath.Join(filepath.Dir(exe), ShimBinary); executable(small) == nil {
			shim = []string{small, ShimSubcommand}
		}
	}
	size, idle := opts.Standby, opts.StandbyIdle
	if size == 0 {
		size = defaultStandby
	}
	if idle <= 0 {
		idle = defaultStandbyIdle
	}
	return &Runtime{shim: shim, pool: newShimPool(shim, size, idle)}, nil
}

// Close lets the standby shims go; running containers are not affected.
// The runtime stays usable and starts each later shim on demand.
func (r *Runtime) Close() error {
	r.pool.close()
	return nil
}

// PrepareSandbox creates the sandbox directory; host processes share the
// host's namespaces for now.
func (r *Runtime) PrepareSandbox(_ context.Context, cfg runtime.SandboxConfig) error {
	if cfg.Dir == "" {
		return nil
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return fmt.Errorf("creating sandbox directory: %w", err)
	}
	return nil
}

// RemoveSandbox removes the sandbox directory.
func (r *Runtime) RemoveSandbox(_ context.Context, cfg runtime.SandboxConfig) error {
	if cfg.Dir == "" {
		return nil
	}
	if err := os.RemoveAll(cfg.Dir); err != nil {
		return fmt.Errorf("removing sandbox directory: %w", err)
	}
	return nil
}

// Start launches the shim for one attempt and returns once the container's
// process runs (or failed to start, as a *runtime.StartError).
//
// A sandbox this node cannot provide is refused up front with the
// *isolate.UnsupportedError, so that the pod fails with its reason.
func (r *Runtime) Start(_ context.Context, cfg runtime.ContainerConfig) (runtime.Container, error) {
	if cfg.Sandbox != nil {
		if err := isolate.Validate(*cfg.Sandbox); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return nil, fmt.Errorf("creating container state directory: %w", err)
	}
	if err := logDir(cfg.LogPath); err != nil {
		return nil, fmt.Errorf("creating log directory: %w", err)
	}
	sp := spec{ID: cfg.ID, Argv: cfg.Argv, Env: cfg.Env, WorkingDir: cfg.WorkingDir, LogPath: cfg.LogPath,
		Stdin: cfg.Stdin, StdinOnce: cfg.StdinOnce, TTY: cfg.TTY, Sandbox: cfg.Sandbox}
	if err := writeJSON(cfg.StateDir, specFile, sp); err != nil {
		return nil, err
	}
	exited, err := r.launch(cfg.StateDir, containerKind(sp))
	if err != nil {
		return nil, err
	}
	var st state
	if err := readJSON(cfg.StateDir, stateFile, &st); err != nil {
		<-exited
		return nil, fmt.Errorf("shim did not start the container: %w", err)
	}
	if st.StartError != "" {
		return nil, &runtime.StartError{Message: st.StartError}
	}
	c := newContainer(cfg.StateDir, st)
	go func() {
		<-exited
		c.finish()
	}()
	return c, nil
}

// launch has a shim take the attempt in stateDir, a standby one when
// available, and returns once the container runs or failed to start. The
// returned channel is closed once the shim has been reaped.
func (r *Runtime) launch(stateDir, kind string) (<-chan struct{}, error) {
	if w := r.pool.take(kind); w != nil && w.handOff(stateDir) {
		return w.exited, nil
	}
	shimLog, err := os.OpenFile(filepath.Join(stateDir, "shim.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening shim log: %w", err)
	}
	defer shimLog.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating shim pipe: %w", err)
	}
	defer readyR.Close()
	cmd := exec.Command(r.shim[0], append(append([]string{}, r.shim[1:]...), stateDir)...)
	cmd.Env = []string{}
	cmd.Stdout, cmd.Stderr = shimLog, shimLog
	cmd.ExtraFiles = []*os.File{readyW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		return nil, fmt.Errorf("starting shim: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	// The shim closes its end once the container runs or failed to start.
	_, _ = io.Copy(io.Discard, readyR)
	return exited, nil
}

// Adopt re-attaches to an attempt started by an earlier agent process.
func (r *Runtime) Adopt(stateDir string) (runtime.Container, error) {
	var st state
	if err := readJSON(stateDir, stateFile, &st); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		// The shim never reported: nothing of this attempt can be running
		// under our supervision.
		var sp spec
		if err := readJSON(stateDir, specFile, &sp); err != nil {
			return nil, fmt.Errorf("adopting %s: %w", stateDir, err)
		}
		st = state{ID: sp.ID}
		c := newContainer(stateDir, st)
		c.finish()
		return c, nil
	}
	c := newContainer(stateDir, st)
	if st.StartError != "" || fileExists(filepath.Join(stateDir, exitFile)) {
		c.finish()
		return c, nil
	}
	pidfd, err := unix.PidfdOpen(st.ShimPID, 0)
	if err != nil {
		c.finish()
		return c, nil
	}
	if start, err := procStartTime(st.ShimPID); err != nil || start != st.ShimStart {
		unix.Close(pidfd)
		c.finish()
		return c, nil
	}
	go func() {
		waitPidfd(pidfd)
		c.finish()
	}()
	return c, nil
}

// waitPidfd blocks until the process behind pidfd has exited, parked in
// the network poller rather than a thread.
func waitPidfd(pidfd int) {
	if err := unix.SetNonblock(pidfd, true); err != nil {
		pollBlocking(pidfd)
		unix.Close(pidfd)
		return
	}
	f := os.NewFile(uintptr(pidfd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		pollBlocking(pidfd)
		return
	}
	_ = rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, _ := unix.Poll(fds, 0)
		return n > 0
	})
}

func pollBlocking(fd int) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, -1)
		if n > 0 || (err != nil && err != unix.EINTR) {
			return
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// container is one supervised attempt.
type container struct {
	dir  string
	st   state
	once sync.Once
	done chan struct{}
	exit runtime.Exit
}

func newContainer(dir string, st state) *container {
	return &container{dir: dir, st: st, done: make(chan struct{})}
}

func (c *container) ID() string            { return c.st.ID }
func (c *container) StartedAt() time.Time  { return c.st.StartedAt }
func (c *container) Done() <-chan struct{} { return c.done }

func (c *container) Exit() runtime.Exit {
	<-c.done
	return c.exit
}

func (c *container) Signal(sig syscall.Signal) error {
	select {
	case <-c.done:
		return nil
	default:
	}
	if c.st.ChildPID <= 0 {
		return nil
	}
	// As a container runtime does: a signal goes to the container's main
	// process, which decides what its children get; only SIGKILL takes
	// the whole process group down at once.
	target := c.st.ChildPID
	if sig == syscall.SIGKILL {
		target = -target
	}
	if err := syscall.Kill(target, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signalling container %s: %w", c.st.ID, err)
	}
	return nil
}

// finish records the exit written by the shim, or an unknown status when
// the shim is gone without having written one.
func (c *container) finish() {
	c.once.Do(func() {
		var rec exitRecord
		if err := readJSON(c.dir, exitFile, &rec); err != nil {
			rec = exitRecord{
				ExitCode:   137,
				FinishedAt: time.Now(),
				Reason:     "ContainerStatusUnknown",
				Message:    "The container could not be located when the pod was terminated",
			}
		}
		c.exit = rec.toExit()
		close(c.done)
	})
}
