package process

import (
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// The supervisor reaps every child in one place, driven by SIGCHLD: no
// thread sits in a blocking wait per container, and the orphans it
// inherits as a child subreaper (background processes of containers whose
// parent ended) are collected along the way. Whoever starts a process
// hands it to watch and learns its status from the returned channel; no
// other code may wait for it.

// unclaimedTTL is how long the status of a child nobody watches (yet) is
// kept: a watcher registering just after its child was reaped finds it.
const unclaimedTTL = time.Minute

// reapResult is how a child ended; ok is false when its status was lost
// (another waiter reaped it).
type reapResult struct {
	status syscall.WaitStatus
	ok     bool
}

type unclaimed struct {
	status syscall.WaitStatus
	at     time.Time
}

// reaper collects the statuses of all children of this process.
type reaper struct {
	mu        sync.Mutex
	waiters   map[int]chan reapResult
	unclaimed map[int]unclaimed
}

// startReaper starts reaping on SIGCHLD.
func startReaper() *reaper {
	r := &reaper{waiters: map[int]chan reapResult{}, unclaimed: map[int]unclaimed{}}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGCHLD)
	go func() {
		for range sig {
			r.reap()
		}
	}()
	// Children that ended before the handler was installed.
	r.reap()
	return r
}

// reap collects every child that has ended. Signals coalesce, so one
// SIGCHLD may stand for many children.
func (r *reaper) reap() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if pid <= 0 {
			break
		}
		if ch, ok := r.waiters[pid]; ok {
			delete(r.waiters, pid)
			ch <- reapResult{status: ws, ok: true}
			continue
		}
		r.unclaimed[pid] = unclaimed{status: ws, at: now}
	}
	for pid, u := range r.unclaimed {
		if now.Sub(u.at) > unclaimedTTL {
			delete(r.unclaimed, pid)
		}
	}
}

// watch returns a channel that receives p's status once it has ended. p
// must be a child of this process that nothing else waits for.
func (r *reaper) watch(p *os.Process) <-chan reapResult {
	ch := make(chan reapResult, 1)
	r.mu.Lock()
	defer r.mu.Unlock()
	// The process handle (a pidfd) tells whether p itself is reaped
	// already, which a kept status for its pid cannot: the pid may have
	// belonged to an earlier child.
	if err := p.Signal(syscall.Signal(0)); errors.Is(err, os.ErrProcessDone) {
		u, ok := r.unclaimed[p.Pid]
		delete(r.unclaimed, p.Pid)
		ch <- reapResult{status: u.status, ok: ok}
		return ch
	}
	delete(r.unclaimed, p.Pid)
	r.waiters[p.Pid] = ch
	return ch
}
