// Package process is the runtime that runs containers as host process
// groups. One supervisor process per runtime root and shim binary (this
// binary, or the dedicated shim binary, re-executed with ShimSubcommand)
// starts and follows every container in its own session, so containers
// outlive the agent and their exit status is recorded even while it is
// down.
package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/batchlet/batchlet/internal/fsutil"
	"github.com/batchlet/batchlet/internal/runtime"
	"github.com/batchlet/batchlet/internal/runtime/sandbox/isolate"
)

// Options configure the runtime.
type Options struct {
	// ShimCommand is the argv prefix that runs ShimMain. Default: the
	// dedicated shim binary next to this executable, else this executable,
	// with ShimSubcommand.
	ShimCommand []string
	// Root is the runtime's own directory: its supervisor's socket, lock
	// and log. Runtimes with different roots never share a supervisor.
	// Default: a per-user directory under os.TempDir().
	Root string
	// NoForkServer gives each sandboxed container an init step process
	// of its own instead of forking it from the supervisor's fork server
	// (forkserver.go); for comparison.
	NoForkServer bool
	// Idle is how long the supervisor stays without containers and
	// clients before it exits; 0 means the default. A supervisor keeps the
	// values it was started with.
	Idle time.Duration
}

// defaultIdle is Options.Idle's default.
const defaultIdle = time.Minute

// ShimBinary is the name of the optional dedicated shim binary, looked for
// next to the running executable; its main hands os.Args[2:] to ShimMain.
const ShimBinary = "batchlet-shim"

// startAttempts bounds how often Start asks a supervisor again when the
// one it reached went away without taking the container (it was exiting).
const startAttempts = 3

// Runtime runs containers as host processes.
type Runtime struct {
	shim        []string
	root        string
	defaultRoot bool
	forkServer  bool
	idle        time.Duration

	keyMu sync.Mutex
	key   shimKey

	connMu sync.Mutex
	// conns are the multiplexed connections by supervisor socket; noMux
	// holds the sockets of supervisors that serve none.
	conns map[string]*supConn
	noMux map[string]bool
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
	r := &Runtime{shim: shim, root: opts.Root, forkServer: !opts.NoForkServer, idle: opts.Idle}
	if r.root == "" {
		r.root, r.defaultRoot = filepath.Join(os.TempDir(), "batchlet-runtime-"+strconv.Itoa(os.Geteuid())), true
	}
	root, err := filepath.Abs(r.root)
	if err != nil {
		return nil, fmt.Errorf("runtime directory: %w", err)
	}
	r.root = root
	if r.idle <= 0 {
		r.idle = defaultIdle
	}
	return r, nil
}

// Close does nothing: the supervisor, its fork server and the
// running containers outlive the runtime, and the supervisor exits by
// itself once idle. The runtime stays usable.
func (r *Runtime) Close() error { return nil }

// PrepareSandbox creates the sandbox directory; host processes share the
// host's namespaces for now.
func (r *Runtime) PrepareSandbox(_ context.Context, cfg runtime.SandboxConfig) error {
	if cfg.Dir == "" {
		return nil
	}
	if err := fsutil.MkdirAll(cfg.Dir, 0o750); err != nil {
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

// Start has the supervisor start one attempt and returns once the
// container's process runs (or failed to start, as a *runtime.StartError).
//
// A sandbox this node cannot provide is refused up front with the
// *isolate.UnsupportedError, so that the pod fails with its reason.
func (r *Runtime) Start(_ context.Context, cfg runtime.ContainerConfig) (runtime.Container, error) {
	if cfg.Sandbox != nil {
		if err := isolate.Validate(*cfg.Sandbox); err != nil {
			return nil, err
		}
	}
	dir, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return nil, fmt.Errorf("container state directory: %w", err)
	}
	if err := fsutil.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating container state directory: %w", err)
	}
	// The supervisor may have been started from another directory.
	logPath, err := filepath.Abs(cfg.LogPath)
	if err != nil {
		return nil, fmt.Errorf("container log path: %w", err)
	}
	if err := logDir(logPath); err != nil {
		return nil, fmt.Errorf("creating log directory: %w", err)
	}
	sp := spec{ID: cfg.ID, Argv: cfg.Argv, Env: cfg.Env, WorkingDir: cfg.WorkingDir, LogPath: logPath,
		Stdin: cfg.Stdin, StdinOnce: cfg.StdinOnce, TTY: cfg.TTY, Sandbox: cfg.Sandbox}
	// The request carries spec.json's very bytes, which the supervisor
	// compares with the file instead of decoding it (claimAttempt).
	data, err := json.Marshal(sp)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", specFile, err)
	}
	if err := writeFile(dir, specFile, data); err != nil {
		return nil, err
	}
	c, err := r.startOnSupervisor(dir, data)
	if err != nil {
		return nil, err
	}
	if c.st.StartError != "" {
		return nil, &runtime.StartError{Message: c.st.StartError}
	}
	return c, nil
}

// startOnSupervisor asks the supervisor to start the container of dir
// and returns it, followed until its exit, in the state it runs in (or
// failed to start in).
func (r *Runtime) startOnSupervisor(dir string, sp []byte) (*container, error) {
	req := supRequest{Op: opStart, Dir: dir, Spec: sp}
	var lastErr error
	for range startAttempts {
		c, err := r.startOnce(req)
		if err == nil {
			return c, nil
		}
		var refused *supRefusal
		var unreachable *noSupervisor
		if errors.As(err, &refused) || errors.As(err, &unreachable) || errors.Is(err, errFrameTooLarge) {
			return nil, err
		}
		var st state
		if rerr := readJSON(dir, stateFile, &st); rerr == nil {
			// The supervisor took the container and went away: what it
			// recorded is all there is.
			c := newContainer(dir, st)
			c.finish()
			return c, nil
		}
		// A supervisor that exits for idleness stops taking requests
		// first: it never saw this one, so another may take it.
		lastErr = err
	}
	return nil, fmt.Errorf("the container supervisor did not take the container: %w", lastErr)
}

// noSupervisor is the failure to reach or start a supervisor, which
// asking again would not mend.
type noSupervisor struct{ err error }

func (e *noSupervisor) Error() string { return e.err.Error() }
func (e *noSupervisor) Unwrap() error { return e.err }

// startOnce sends a start request to the supervisor once: over the
// multiplexed connection, or over a connection of its own to a
// supervisor that serves none.
func (r *Runtime) startOnce(req supRequest) (*container, error) {
	key, err := r.supervisorKey()
	if err != nil {
		return nil, &noSupervisor{err}
	}
	sock, _ := supervisorFiles(r.root, key)
	sc, err := r.supervisorConn(sock, func() error { return r.startSupervisor(key) })
	switch {
	case errors.Is(err, errConnLost):
		return nil, err
	case err != nil:
		return nil, &noSupervisor{err}
	case sc == nil:
		return r.startOnOwnConn(req)
	}
	c := newContainer(req.Dir, state{})
	a, err := sc.call(req, c)
	if err != nil {
		return nil, err
	}
	if c.st, err = answerState(a.kind, a.p); err != nil {
		return nil, err
	}
	return c, nil
}

// startOnOwnConn starts the container over a connection of its own, on
// which its exit is reported.
func (r *Runtime) startOnOwnConn(req supRequest) (*container, error) {
	conn, err := r.dialSupervisor()
	if err != nil {
		return nil, &noSupervisor{err}
	}
	st, err := request(conn, req, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := newContainer(req.Dir, st)
	if st.StartError != "" {
		conn.Close()
		return c, nil
	}
	go c.follow(conn)
	return c, nil
}

// Adopt re-attaches to an attempt started by an earlier agent process.
func (r *Runtime) Adopt(stateDir string) (runtime.Container, error) {
	dir, err := filepath.Abs(stateDir)
	if err != nil {
		return nil, fmt.Errorf("adopting %s: %w", stateDir, err)
	}
	var st state
	if err := readJSON(dir, stateFile, &st); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		// The earlier agent stopped before the supervisor reported:
		// either no start is under way, and the claim makes sure none
		// will be, or one is and its state follows.
		var sp spec
		if err := readJSON(dir, specFile, &sp); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				// Start writes the spec (atomically) before it asks the
				// supervisor, which claims only with it: the earlier
				// agent stopped before asking.
				return nil, runtime.ErrNotStarted
			}
			return nil, fmt.Errorf("adopting %s: %w", stateDir, err)
		}
		won, err := claimStart(dir, sp.ID)
		if err != nil {
			return nil, fmt.Errorf("adopting %s: %w", stateDir, err)
		}
		if won {
			return nil, runtime.ErrNotStarted
		}
		if !waitForFile(filepath.Join(dir, stateFile), adoptStateWait) {
			c := newContainer(dir, state{ID: sp.ID})
			c.finish()
			return c, nil
		}
		if err := readJSON(dir, stateFile, &st); err != nil {
			return nil, fmt.Errorf("adopting %s: %w", stateDir, err)
		}
	}
	c := newContainer(dir, st)
	if st.StartError != "" || fileExists(filepath.Join(dir, exitFile)) {
		c.finish()
		return c, nil
	}
	if st.Supervisor == "" {
		// Started by a dedicated shim of an earlier version: it ends with
		// its container.
		adoptShim(c)
		return c, nil
	}
	r.watch(c, st.Supervisor)
	return c, nil
}

// watch has the supervisor on sock report the exit of c, which it runs;
// c finishes from the state directory's files when it cannot.
func (r *Runtime) watch(c *container, sock string) {
	req := supRequest{Op: opWatch, Dir: c.dir}
	sc, err := r.supervisorConn(sock, nil)
	if err != nil {
		c.finish()
		return
	}
	if sc != nil {
		if a, err := sc.call(req, c); err != nil || a.kind != supFrameState {
			c.finish()
		}
		return
	}
	conn, err := dialSocket(sock)
	if err != nil {
		c.finish()
		return
	}
	if _, err := request(conn, req, nil); err != nil {
		conn.Close()
		c.finish()
		return
	}
	go c.follow(conn)
}

// adoptStateWait bounds how long Adopt waits for the state of an attempt
// the supervisor claimed but has not reported yet; starting a process
// takes milliseconds, so a state that is this late will not come.
const adoptStateWait = 10 * time.Second

// waitForFile reports whether path exists within d.
func waitForFile(path string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if fileExists(path) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// adoptShim follows a container's dedicated shim process until it exits.
func adoptShim(c *container) {
	pidfd, err := unix.PidfdOpen(c.st.ShimPID, 0)
	if err != nil {
		c.finish()
		return
	}
	if start, err := procStartTime(c.st.ShimPID); err != nil || start != c.st.ShimStart {
		unix.Close(pidfd)
		c.finish()
		return
	}
	go func() {
		waitPidfd(pidfd)
		c.finish()
	}()
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

// follow waits on the supervisor's connection for the container's exit.
// A connection that ends without it means the supervisor is gone.
func (c *container) follow(conn io.ReadCloser) {
	defer conn.Close()
	for {
		kind, p, err := readFrame(conn)
		if err != nil {
			c.finish()
			return
		}
		if kind != supFrameExit {
			continue
		}
		c.finishFrame(p)
		return
	}
}

// finishFrame records the exit a supervisor's supFrameExit carries.
func (c *container) finishFrame(p []byte) {
	var rec exitRecord
	if err := json.Unmarshal(p, &rec); err != nil {
		c.finish()
		return
	}
	c.finishWith(rec)
}

// finish records the exit the supervisor wrote, or an unknown status when
// it is gone without having written one.
func (c *container) finish() {
	var rec exitRecord
	if err := readJSON(c.dir, exitFile, &rec); err != nil {
		rec = exitRecord{
			ExitCode:   137,
			FinishedAt: time.Now(),
			Reason:     "ContainerStatusUnknown",
			Message:    "The container could not be located when the pod was terminated",
		}
	}
	c.finishWith(rec)
}

func (c *container) finishWith(rec exitRecord) {
	c.once.Do(func() {
		c.exit = rec.toExit()
		close(c.done)
	})
}
