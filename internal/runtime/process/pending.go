package process

import (
	"sync"
	"time"

	"github.com/batchlet/batchlet/internal/runtime/sandbox/isolate"
)

// The sandbox init step of a container costs a process start and, with
// namespaces, their creation. The supervisor keeps a few init steps of
// each kind started ahead of need (isolate.Prestart), so that what remains
// when a sandboxed container arrives is its mounts and one exec. A kind's
// pool is filled on its first use, refilled after each take, and emptied
// when it stays unused for the idle time.

// Defaults for Options.Standby and Options.StandbyIdle. Pods of one small
// Job start together; with too small a pool the last of them starts cold,
// noticeably later, and peers that look each other up (the pod-to-pod
// tutorial's Indexed Job of three) can miss one that already finished.
const (
	defaultStandby     = 4
	defaultStandbyIdle = time.Minute
)

// pendingPool keeps up to size prestarted init steps per kind (with or
// without namespaces). A nil pool keeps none.
type pendingPool struct {
	size int
	idle time.Duration

	mu       sync.Mutex
	free     map[bool][]*pendingInit
	starting map[bool]int
	closed   bool
	taken    int
}

type pendingInit struct {
	p     *isolate.Pending
	timer *time.Timer
}

func newPendingPool(size int, idle time.Duration) *pendingPool {
	if size <= 0 {
		return nil
	}
	return &pendingPool{size: size, idle: idle, free: map[bool][]*pendingInit{}, starting: map[bool]int{}}
}

// take returns a prestarted init step of the kind, or nil when none is
// ready, and starts replacements in the background either way.
func (pp *pendingPool) take(namespaces bool) *isolate.Pending {
	if pp == nil {
		return nil
	}
	pp.mu.Lock()
	defer pp.mu.Unlock()
	defer pp.refillLocked(namespaces)
	list := pp.free[namespaces]
	if len(list) == 0 {
		return nil
	}
	pi := list[len(list)-1]
	pp.free[namespaces] = list[:len(list)-1]
	pi.timer.Stop()
	pp.taken++
	return pi.p
}

func (pp *pendingPool) refillLocked(namespaces bool) {
	if pp.closed {
		return
	}
	for n := len(pp.free[namespaces]) + pp.starting[namespaces]; n < pp.size; n++ {
		pp.starting[namespaces]++
		go pp.add(namespaces)
	}
}

// add prestarts one init step and parks it.
func (pp *pendingPool) add(namespaces bool) {
	p, err := isolate.Prestart(initArgv, namespaces)
	pp.mu.Lock()
	defer pp.mu.Unlock()
	pp.starting[namespaces]--
	if err != nil {
		return
	}
	if pp.closed {
		go p.Release()
		return
	}
	pi := &pendingInit{p: p}
	pi.timer = time.AfterFunc(pp.idle, func() { pp.expire(namespaces, pi) })
	pp.free[namespaces] = append(pp.free[namespaces], pi)
}

// expire releases an init step that stayed unused for the idle time; one
// taken meanwhile is no longer listed and stays with its taker.
func (pp *pendingPool) expire(namespaces bool, pi *pendingInit) {
	pp.mu.Lock()
	list := pp.free[namespaces]
	found := false
	for i, x := range list {
		if x == pi {
			pp.free[namespaces] = append(list[:i:i], list[i+1:]...)
			found = true
			break
		}
	}
	pp.mu.Unlock()
	if found {
		pi.p.Release()
	}
}

// close releases every parked init step; later takes find none.
func (pp *pendingPool) close() {
	if pp == nil {
		return
	}
	pp.mu.Lock()
	pp.closed = true
	var all []*pendingInit
	for k, list := range pp.free {
		all = append(all, list...)
		delete(pp.free, k)
	}
	pp.mu.Unlock()
	for _, pi := range all {
		pi.timer.Stop()
		pi.p.Release()
	}
}

// stats are the parked init steps by kind and how many were taken.
func (pp *pendingPool) stats() (map[string]int, int) {
	if pp == nil {
		return nil, 0
	}
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return map[string]int{"namespaces": len(pp.free[true]), "init": len(pp.free[false])}, pp.taken
}
