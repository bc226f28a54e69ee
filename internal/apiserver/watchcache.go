package apiserver

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/batchlet/batchlet/internal/storage"
)

// Watch cache sizing.
const (
	// watchCacheCapacity is how many recent events a resource keeps, so a
	// watch resuming from a recent resourceVersion is served from memory.
	watchCacheCapacity = 1024
	// watcherBuffer is how many events may wait for one watcher.
	watcherBuffer = 512
	// dispatchBudget is how long one event may wait for watchers whose
	// buffer is full before they are dropped.
	dispatchBudget = 100 * time.Millisecond
)

// watchCache fans one storage watch of a resource (all namespaces) out to
// every watcher of that resource. It starts with the first watch and
// keeps a ring of recent events.
type watchCache struct {
	prefix  string
	store   storage.Interface
	setKind func(runtime.Object) error

	mu      sync.Mutex
	running bool
	// ring holds the latest events in revision order, oldest at head.
	ring       []storage.Event
	head, size int
	// since: every event with a revision above it is in the ring.
	since    int64
	watchers map[*cacheWatcher]struct{}
	// byKey indexes the ring's objects by key (see latestObjects); the
	// dispatch loop changes it under mu.
	byKey latestObjects
	// encodings maps the object of each event in the ring to its
	// *sharedEncodings; objects are never modified once dispatched.
	encodings sync.Map
}

// prevDeferringStore is a store whose watch can leave the previous values
// of events undecoded (storage.Event.LoadPrev, as etcd3's store does), so
// that the cache supplies the ones it holds instead.
type prevDeferringStore interface {
	WatchDeferPrev(ctx context.Context, prefix string, opts storage.WatchOptions) (storage.Watcher, error)
}

func newWatchCache(prefix string, store storage.Interface, setKind func(runtime.Object) error) *watchCache {
	return &watchCache{
		prefix:   prefix,
		store:    store,
		setKind:  setKind,
		ring:     make([]storage.Event, watchCacheCapacity),
		watchers: map[*cacheWatcher]struct{}{},
	}
}

// ensureRunning starts the storage watch unless it runs already. Objects
// listed after it returns are at a revision the cache can serve from.
func (c *watchCache) ensureRunning(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return nil
	}
	rev, err := c.store.CurrentRevision(ctx)
	if err != nil {
		return fmt.Errorf("watch cache %s: current revision: %w", c.prefix, err)
	}
	// The storage watch outlives the request that started it.
	open := c.store.Watch
	if ds, ok := c.store.(prevDeferringStore); ok {
		open = ds.WatchDeferPrev
	}
	w, err := open(context.WithoutCancel(ctx), c.prefix, storage.WatchOptions{Revision: rev})
	if err != nil {
		return fmt.Errorf("watch cache %s: %w", c.prefix, err)
	}
	// A restarted cache starts with an empty index.
	c.running, c.since, c.head, c.size, c.byKey = true, rev, 0, 0, latestObjects{}
	go c.dispatchLoop(w)
	return nil
}

// watch registers a watcher for namespace ns ("" for all) receiving
// events after revision rev (0: from now). It reports false when the
// cache cannot serve rev: not running, or rev older than the ring.
func (c *watchCache) watch(ns string, rev int64) (*cacheWatcher, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running || (rev != 0 && rev < c.since) {
		return nil, false
	}
	var backlog []storage.Event
	for i := 0; i < c.size; i++ {
		ev := c.ring[(c.head+i)%len(c.ring)]
		if ev.Revision > rev && inNamespace(ev, ns) {
			backlog = append(backlog, ev)
		}
	}
	if rev == 0 {
		rev = c.latest()
	}
	w := &cacheWatcher{cache: c, ns: ns, after: rev, ch: make(chan storage.Event, len(backlog)+watcherBuffer)}
	for _, ev := range backlog {
		w.ch <- ev
	}
	c.watchers[w] = struct{}{}
	return w, true
}

// latest is the newest revision the cache has seen; the caller holds mu.
func (c *watchCache) latest() int64 {
	if c.size == 0 {
		return c.since
	}
	return c.ring[(c.head+c.size-1)%len(c.ring)].Revision
}

// dispatchLoop copies storage events into the ring and to the watchers
// until the storage watch ends; then every watcher is closed (clients
// resume from their last revision) and the next watch restarts the cache.
func (c *watchCache) dispatchLoop(w storage.Watcher) {
	defer w.Stop()
	for ev := range w.ResultChan() {
		if ev.Type == watch.Error {
			break
		}
		c.mu.Lock()
		known := c.byKey.at(ev.Key, ev.PrevRevision)
		c.mu.Unlock()
		if err := ev.CompletePrev(known); err != nil {
			log.Printf("apiserver: watch cache %s: %v", c.prefix, err)
			break
		}
		// Objects are shared by all watchers: settle their kind now so
		// that encoding them never writes to them. A PrevObject taken from
		// the index was settled when it was dispatched.
		c.settleKind(ev.Object)
		c.settleKind(ev.PrevObject)
		c.dispatch(ev)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running = false
	c.byKey = nil
	for cw := range c.watchers {
		c.dropLocked(cw)
	}
	c.encodings.Clear()
}

// settleKind fills in obj's kind unless it is set: a set one may be read
// by watchers at this moment.
func (c *watchCache) settleKind(obj runtime.Object) {
	if obj != nil && obj.GetObjectKind().GroupVersionKind().Empty() {
		_ = c.setKind(obj)
	}
}

// dispatch records ev and hands it to the watchers; a watcher whose
// buffer stays full for dispatchBudget is dropped, so one slow client
// cannot hold up the others for long. The index forgets the object of an
// event leaving the ring.
func (c *watchCache) dispatch(ev storage.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byKey.record(ev)
	if c.size == len(c.ring) {
		old := c.ring[c.head]
		if shareable(old.Object) {
			c.encodings.Delete(old.Object)
		}
		c.byKey.evict(old)
		c.since = old.Revision
		c.head = (c.head + 1) % len(c.ring)
		c.size--
	}
	if shareable(ev.Object) {
		c.encodings.Store(ev.Object, &sharedEncodings{})
	}
	c.ring[(c.head+c.size)%len(c.ring)] = ev
	c.size++
	var blocked []*cacheWatcher
	for cw := range c.watchers {
		if ev.Revision <= cw.after || !inNamespace(ev, cw.ns) {
			continue
		}
		select {
		case cw.ch <- ev:
		default:
			blocked = append(blocked, cw)
		}
	}
	if len(blocked) == 0 {
		return
	}
	deadline := time.Now().Add(dispatchBudget)
	for _, cw := range blocked {
		if !cw.sendBy(ev, deadline) {
			c.dropLocked(cw)
		}
	}
}

// latestObjects maps a key to the object of its latest event while that
// event is in the ring. A Modified or Deleted event whose previous value is
// that object's revision gets it as PrevObject instead of a second decode
// of the same stored bytes. Keys whose latest event has left the ring are
// dropped, so the index keeps no object the ring does not; indexing every
// key would keep a decoded copy of every object changed since the cache
// started (all pods, with 10,000 of them).
type latestObjects map[string]latestObject

type latestObject struct {
	obj   runtime.Object
	value []byte
	rev   int64
}

// current returns what the cache holds as key's latest value, for an
// update to start from: only while the cache runs and the key's latest
// event, with its stored bytes, is in the ring. The object is shared.
func (c *watchCache) current(key string) (storage.Cached, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.byKey[key]
	if !c.running || !ok || o.value == nil {
		return storage.Cached{}, false
	}
	return storage.Cached{Object: o.obj, Value: o.value, Revision: o.rev}, true
}

// at returns the object indexed for key at exactly rev, or nil.
func (l latestObjects) at(key string, rev int64) runtime.Object {
	if key == "" || rev == 0 {
		return nil
	}
	if o, ok := l[key]; ok && o.rev == rev {
		return o.obj
	}
	return nil
}

// record makes ev's object the latest of its key; a deleted key has none.
func (l latestObjects) record(ev storage.Event) {
	if ev.Key == "" {
		return
	}
	if ev.Type == watch.Deleted {
		delete(l, ev.Key)
		return
	}
	l[ev.Key] = latestObject{obj: ev.Object, value: ev.Value, rev: ev.Revision}
}

// evict forgets ev's object when ev, leaving the ring, is still the
// latest event of its key.
func (l latestObjects) evict(ev storage.Event) {
	if o, ok := l[ev.Key]; ok && o.rev == ev.Revision {
		delete(l, ev.Key)
	}
}

// dropLocked closes a watcher; the caller holds mu.
func (c *watchCache) dropLocked(cw *cacheWatcher) {
	if _, ok := c.watchers[cw]; ok {
		delete(c.watchers, cw)
		close(cw.ch)
	}
}

// inNamespace reports whether ev's object lies in ns ("" is all).
func inNamespace(ev storage.Event, ns string) bool {
	if ns == "" {
		return true
	}
	acc, err := meta.Accessor(ev.Object)
	return err == nil && acc.GetNamespace() == ns
}

// cacheWatcher is one watcher of a watchCache; it is a storage.Watcher.
type cacheWatcher struct {
	cache *watchCache
	ns    string
	after int64
	ch    chan storage.Event
}

// sendBy queues ev, waiting at most until deadline for room.
func (w *cacheWatcher) sendBy(ev storage.Event, deadline time.Time) bool {
	wait := time.Until(deadline)
	if wait <= 0 {
		select {
		case w.ch <- ev:
			return true
		default:
			return false
		}
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case w.ch <- ev:
		return true
	case <-t.C:
		return false
	}
}

func (w *cacheWatcher) ResultChan() <-chan storage.Event { return w.ch }

func (w *cacheWatcher) Stop() {
	w.cache.mu.Lock()
	defer w.cache.mu.Unlock()
	w.cache.dropLocked(w)
}
