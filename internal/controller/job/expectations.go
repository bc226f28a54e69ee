package job

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/clock"
)

// expectationsTimeout bounds how long a lost watch event can block a Job.
const expectationsTimeout = 5 * time.Minute

type expectation struct {
	adds, dels int
	at         time.Time
}

// expectations counts pod creations and deletions sent but not yet seen
// by the informer, so a sync never acts twice on a stale cache; and pod
// UIDs whose finalizer removal was sent but not yet observed, so they are
// never counted twice.
type expectations struct {
	clk clock.Clock
	mu  sync.Mutex
	m   map[string]*expectation
	rm  map[string]sets.Set[string]
}

func newExpectations(clk clock.Clock) *expectations {
	return &expectations{clk: clk, m: map[string]*expectation{}, rm: map[string]sets.Set[string]{}}
}

func (e *expectations) expect(key string, adds, dels int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &expectation{adds: adds, dels: dels, at: e.clk.Now()}
}

func (e *expectations) observe(key string, adds, dels int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x := e.m[key]; x != nil {
		x.adds -= adds
		x.dels -= dels
	}
}

func (e *expectations) creationObserved(key string) { e.observe(key, 1, 0) }
func (e *expectations) deletionObserved(key string) { e.observe(key, 0, 1) }

// satisfied is true when nothing is pending, nothing was recorded, or the
// record expired.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.m[key]
	if x == nil {
		return true
	}
	return (x.adds <= 0 && x.dels <= 0) || e.clk.Since(x.at) > expectationsTimeout
}

func (e *expectations) expectFinalizersRemoved(key string, uids []string) {
	if len(uids) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.rm[key]
	if s == nil {
		s = sets.New[string]()
		e.rm[key] = s
	}
	s.Insert(uids...)
}

func (e *expectations) finalizerRemovalObserved(key, uid string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.rm[key]; s != nil {
		s.Delete(uid)
		if s.Len() == 0 {
			delete(e.rm, key)
		}
	}
}

// expectedRemovals returns a copy of the UIDs still awaited.
func (e *expectations) expectedRemovals(key string) sets.Set[string] {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rm[key].Clone()
}

func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
	delete(e.rm, key)
}
