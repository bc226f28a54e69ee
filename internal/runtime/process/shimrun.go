package process

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/batchlet/batchlet/internal/runtime/logfile"
)

// shimContainer is one container as the supervisor runs it: what a
// dedicated shim process per container used to do, in goroutines.
type shimContainer struct {
	dir string
	st  state
	// done is closed once exit is recorded (exit.json written).
	done chan struct{}
	exit exitRecord
	// sess serves exec and attach while the container runs.
	sess *sessions
}

// shimEnv is what starting a container needs from its supervisor.
type shimEnv struct {
	reaper *reaper
	forks  *forkServers
	// base identifies the supervisor in each container's state.
	base state
}

// errNotClaimed refuses a start request that is not, or no longer, the
// attempt its directory holds: an agent gave it up, or started another.
var errNotClaimed = errors.New("the attempt was given up or replaced; not starting it")

// start starts the container of dir as sp describes and returns once it
// runs, or failed to start (st.StartError set, exit recorded). A running
// container is followed in the background until its exit is recorded.
// A request that may not start the attempt (see claimStart) is refused
// with errNotClaimed and leaves the directory as it was.
func (e *shimEnv) start(dir string, sp spec) (*shimContainer, error) {
	if err := claimAttempt(dir, sp.ID); err != nil {
		return nil, err
	}
	c := &shimContainer{dir: dir, st: e.base, done: make(chan struct{})}
	c.st.ID = sp.ID
	logFile, err := os.OpenFile(sp.LogPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return c.startFailed(fmt.Sprintf("opening log file: %v", err)), nil
	}
	cmd, err := buildCommand(sp)
	if err != nil {
		logFile.Close()
		return c.startFailed(err.Error()), nil
	}
	sess := newSessions(sp, e.reaper)
	stdio, err := connectStdio(cmd, sp, sess)
	if err != nil {
		logFile.Close()
		return c.startFailed(err.Error()), nil
	}
	proc, exited, err := startProcess(cmd, sp, e.reaper, e.forks)
	if err != nil {
		stdio.closeAll()
		logFile.Close()
		return c.startFailed(err.Error()), nil
	}
	c.st.StartedAt = time.Now()
	stdio.closeChildEnds()
	c.st.ChildPID = proc.Pid
	sess.pgid, sess.joinable = c.st.ChildPID, !sp.TTY
	lw := logfile.NewWriter(logFile, nil)
	var copies sync.WaitGroup
	for _, o := range stdio.outputs {
		copies.Add(1)
		go func() {
			defer copies.Done()
			_ = lw.Copy(o.stream, stdioReader(o.r, fanoutStream{&sess.out, o.kind}))
		}()
	}
	c.sess = sess
	if err := writeJSON(dir, stateFile, c.st); err != nil {
		// Nobody could learn of a container that runs unrecorded.
		shimLog(dir, err)
		_ = syscall.Kill(-c.st.ChildPID, syscall.SIGKILL)
	}
	go func() {
		res := <-exited
		finished := time.Now()
		_ = proc.Release()
		// The container ends with its main process: whatever it left
		// behind in its process group goes with it.
		_ = syscall.Kill(-c.st.ChildPID, syscall.SIGKILL)
		stdio.drain(time.Now().Add(drainTimeout))
		copies.Wait()
		stdio.closeAll()
		logFile.Close()
		sess.finish()
		c.record(exitOf(res, finished))
	}()
	return c, nil
}

// claimAttempt takes the right to start the attempt of dir for a request
// with id: the claim must be new and the spec on disk must be this
// request's, so a request that arrives after its agent gave the attempt up
// (and perhaps began another in the same directory) starts nothing.
func claimAttempt(dir, id string) error {
	won, err := claimStart(dir, id)
	if err != nil {
		return fmt.Errorf("%w: %v", errNotClaimed, err)
	}
	if !won {
		return errNotClaimed
	}
	var onDisk spec
	if err := readJSON(dir, specFile, &onDisk); err != nil || onDisk.ID != id {
		_ = os.Remove(filepath.Join(dir, claimPrefix+id))
		return errNotClaimed
	}
	return nil
}

// exitOf is the exit record of a reaped main process.
func exitOf(res reapResult, finished time.Time) exitRecord {
	rec := exitRecord{FinishedAt: finished}
	switch {
	case !res.ok:
		rec.ExitCode, rec.Reason, rec.Message = 137, "ContainerStatusUnknown", "the container's exit status was lost"
	case res.status.Signaled():
		rec.Signal = int32(res.status.Signal())
		rec.ExitCode = 128 + rec.Signal
	default:
		rec.ExitCode = int32(res.status.ExitStatus())
	}
	return rec
}

// startFailed records a start error the way a container that ran records
// its exit: state.json says why, exit.json how it ended.
func (c *shimContainer) startFailed(msg string) *shimContainer {
	rec, err := reportStartError(c.dir, &c.st, msg)
	if err != nil {
		shimLog(c.dir, err)
	}
	c.exit = rec
	close(c.done)
	return c
}

// record writes the exit and marks the container done.
func (c *shimContainer) record(rec exitRecord) {
	if err := writeJSON(c.dir, exitFile, rec); err != nil {
		shimLog(c.dir, err)
	}
	c.exit = rec
	close(c.done)
}

// shimLog notes a problem with one container in its state directory.
func shimLog(dir string, err error) {
	f, ferr := os.OpenFile(filepath.Join(dir, "shim.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if ferr != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", dir, err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s %v\n", time.Now().UTC().Format(time.RFC3339Nano), err)
}
