package process

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/batchlet/batchlet/internal/runtime/sandbox/isolate"
)

// A sandboxed container needs an init step: C code that joins the
// cgroups, builds the namespaces and mounts, and execs the command. Run
// as a process of its own per container, the init step costs an exec of
// the shim binary (as much CPU as a short container itself). The
// supervisor instead keeps one fork server, started on first use, that
// forks a small copy of itself per container; the copies are the
// supervisor's own children. When no fork server can run, each container
// gets an init step of its own (isolate.Wrap).

// forkServers starts and restarts the supervisor's fork server.
type forkServers struct {
	// disabled keeps every container on init steps of their own.
	disabled bool
	reaper   *reaper

	mu      sync.Mutex
	current *isolate.ForkServer
	// retryAt is when a fork server that failed to start is tried again:
	// the init step may lack the fork server (the Go one), or the
	// process table or descriptors may have run out for a while.
	retryAt time.Time
	closed  bool
	forked  atomic.Int64
}

// forkServerRetry is how long containers get init steps of their own
// after a fork server failed to start.
const forkServerRetry = time.Minute

func newForkServers(enabled bool, r *reaper) *forkServers {
	return &forkServers{disabled: !enabled, reaper: r}
}

// server returns the running fork server, starting one when there is
// none; nil when none can run.
func (fs *forkServers) server() *isolate.ForkServer {
	if fs == nil || fs.disabled {
		return nil
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.current != nil || fs.closed || time.Now().Before(fs.retryAt) {
		return fs.current
	}
	f, err := isolate.StartForkServer(initArgv)
	if err != nil {
		fs.retryAt = time.Now().Add(forkServerRetry)
		fmt.Fprintf(os.Stderr, "supervisor: containers get an init step each for %s: %v\n", forkServerRetry, err)
		return nil
	}
	// The reaper collects the server's status when it ends; nobody waits.
	go func() { <-fs.reaper.watch(f.Process()) }()
	fs.current = f
	return f
}

// drop forgets f after it went away, so the next container starts a new one.
func (fs *forkServers) drop(f *isolate.ForkServer) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.current == f {
		fs.current = nil
		f.Close()
	}
}

// errNoForkServer says that no fork server took the container and nothing
// was started: the caller wraps the command in an init step of its own.
var errNoForkServer = errors.New("no fork server")

// run starts cmd through the fork server, as isolate.ForkServer.Run, or
// fails with errNoForkServer.
func (fs *forkServers) run(cmd *exec.Cmd, sp isolate.Spec) (*os.Process, error) {
	// A server that died since its last container is replaced once.
	for range 2 {
		f := fs.server()
		if f == nil {
			return nil, errNoForkServer
		}
		proc, err := f.Run(cmd, sp)
		if errors.Is(err, isolate.ErrForkServerGone) {
			fs.drop(f)
			continue
		}
		if proc != nil {
			fs.forked.Add(1)
		}
		return proc, err
	}
	return nil, errNoForkServer
}

// close stops the fork server; containers it made run on.
func (fs *forkServers) close() {
	if fs == nil {
		return
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.current != nil {
		fs.current.Close()
		fs.current = nil
	}
	fs.closed = true
}

// stats are the fork server's pid (0 when none runs) and how many
// containers it made.
func (fs *forkServers) stats() (int, int64) {
	if fs == nil {
		return 0, 0
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	pid := 0
	if fs.current != nil {
		pid = fs.current.Pid()
	}
	return pid, fs.forked.Load()
}
