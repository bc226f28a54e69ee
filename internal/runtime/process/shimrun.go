package process

import (
	"bytes"
	"encoding/json"
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
	// stData is st as state.json holds it, sent to clients as it is.
	stData []byte
	// done is closed once exit is recorded (exit.json written).
	done chan struct{}
	// sess serves exec and attach while the container runs.
	sess *sessions

	mu       sync.Mutex
	ended    bool
	exit     exitRecord
	exitData []byte
	// followers learn the exit, as they register or once it is recorded;
	// untrack runs after them.
	followers []func(*shimContainer)
	untrack   func()
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
// with errNotClaimed and leaves the directory as it was. spData is sp as
// the request carried it, which should be spec.json's content.
func (e *shimEnv) start(dir string, sp spec, spData []byte) (*shimContainer, error) {
	if err := claimAttempt(dir, sp.ID, spData); err != nil {
		return nil, err
	}
	c := &shimContainer{dir: dir, st: e.base, done: make(chan struct{})}
	c.st.ID = sp.ID
	logFile, err := openAppend(sp.LogPath, 0o640)
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
	if cmd.Stdin == nil {
		// exec would open /dev/null for this container alone.
		if null, err := devNull(); err == nil {
			cmd.Stdin = null
		}
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
	if c.stData, err = writeJSONData(dir, stateFile, c.st); err != nil {
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
// Agents send spec.json's bytes as the request's spec, so comparing them
// spares decoding the file; one encoded otherwise (by an earlier agent,
// say) is decoded and must name the same id.
func claimAttempt(dir, id string, spData []byte) error {
	won, err := claimStart(dir, id)
	if err != nil {
		return fmt.Errorf("%w: %v", errNotClaimed, err)
	}
	if !won {
		return errNotClaimed
	}
	onDisk, err := readFile(filepath.Join(dir, specFile))
	if err != nil || !bytes.Equal(onDisk, spData) && !specHasID(onDisk, id) {
		_ = os.Remove(filepath.Join(dir, claimPrefix+id))
		return errNotClaimed
	}
	return nil
}

// specHasID reports whether data is a spec of container id.
func specHasID(data []byte, id string) bool {
	var sp spec
	return json.Unmarshal(data, &sp) == nil && sp.ID == id
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
	rec, stData, exitData, err := reportStartError(c.dir, &c.st, msg)
	if err != nil {
		shimLog(c.dir, err)
	}
	c.stData = stData
	c.end(rec, exitData)
	return c
}

// record writes the exit and marks the container done.
func (c *shimContainer) record(rec exitRecord) {
	data, err := writeJSONData(c.dir, exitFile, rec)
	if err != nil {
		shimLog(c.dir, err)
	}
	c.end(rec, data)
}

// end makes rec the container's exit: its followers learn it, done
// closes, and the supervisor stops listing it, in that order, so that the
// clients have their exits before the supervisor may exit for idleness.
func (c *shimContainer) end(rec exitRecord, data []byte) {
	c.mu.Lock()
	c.exit, c.exitData, c.ended = rec, data, true
	followers, untrack := c.followers, c.untrack
	c.followers, c.untrack = nil, nil
	c.mu.Unlock()
	for _, f := range followers {
		f(c)
	}
	close(c.done)
	if untrack != nil {
		untrack()
	}
}

// onExit has f learn the container's exit: once it is recorded, or at
// once when it is.
func (c *shimContainer) onExit(f func(*shimContainer)) {
	c.mu.Lock()
	if !c.ended {
		c.followers = append(c.followers, f)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	f(c)
}

// setUntrack has f run after the followers once the container has ended,
// or at once when it has.
func (c *shimContainer) setUntrack(f func()) {
	c.mu.Lock()
	if !c.ended {
		c.untrack = f
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	f()
}

// stateJSON is the state as clients receive it.
func (c *shimContainer) stateJSON() []byte {
	if c.stData != nil {
		return c.stData
	}
	data, _ := json.Marshal(c.st)
	return data
}

// exitJSON is the recorded exit as clients receive it; the container
// must have ended.
func (c *shimContainer) exitJSON() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.exitData != nil {
		return c.exitData
	}
	data, _ := json.Marshal(c.exit)
	return data
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
