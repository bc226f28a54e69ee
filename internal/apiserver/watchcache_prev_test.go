package apiserver

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/batchlet/batchlet/internal/storage"
)

// relayWatcher passes a watch's events on through f; end closes it early,
// as a storage watch ending on its own would.
type relayWatcher struct {
	inner storage.Watcher
	ch    chan storage.Event
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

func relay(inner storage.Watcher, f func(storage.Event) storage.Event) *relayWatcher {
	r := &relayWatcher{inner: inner, ch: make(chan storage.Event), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		defer close(r.ch)
		for {
			select {
			case ev, ok := <-inner.ResultChan():
				if !ok {
					return
				}
				select {
				case r.ch <- f(ev):
				case <-r.stop:
					return
				}
			case <-r.stop:
				return
			}
		}
	}()
	return r
}

func (r *relayWatcher) ResultChan() <-chan storage.Event { return r.ch }

func (r *relayWatcher) end() {
	r.once.Do(func() { close(r.stop) })
	<-r.done
}

func (r *relayWatcher) Stop() {
	r.end()
	r.inner.Stop()
}

// deferringMemStore is a memStore whose WatchDeferPrev defers previous
// values as etcd3's does, counting the ones loaded.
type deferringMemStore struct {
	*memStore
	loads   atomic.Int64
	mu      sync.Mutex
	watches []*relayWatcher
}

func (d *deferringMemStore) WatchDeferPrev(ctx context.Context, prefix string, opts storage.WatchOptions) (storage.Watcher, error) {
	inner, err := d.memStore.Watch(ctx, prefix, opts)
	if err != nil {
		return nil, err
	}
	r := relay(inner, func(ev storage.Event) storage.Event {
		if ev.Type == watch.Error {
			return ev
		}
		acc, _ := meta.Accessor(ev.Object)
		ev.Key = prefix + acc.GetNamespace() + "/" + acc.GetName()
		if prev := ev.PrevObject; prev != nil {
			ev.PrevRevision = mustRev(prev)
			ev.LoadPrev = func() (runtime.Object, error) {
				d.loads.Add(1)
				return prev, nil
			}
			ev.PrevObject = nil
			if ev.Type == watch.Deleted {
				ev.Object = nil
			}
		}
		return ev
	})
	d.mu.Lock()
	d.watches = append(d.watches, r)
	d.mu.Unlock()
	return r, nil
}

func (d *deferringMemStore) lastWatch() *relayWatcher {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.watches[len(d.watches)-1]
}

// kindRecorder is a setKind that fails the test when an object is
// written twice.
type kindRecorder struct {
	t    *testing.T
	mu   sync.Mutex
	seen map[runtime.Object]bool
}

func (k *kindRecorder) setKind(obj runtime.Object) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.seen[obj] {
		k.t.Errorf("setKind called again on %p", obj)
	}
	k.seen[obj] = true
	obj.GetObjectKind().SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	return nil
}

func newDeferringCache(t *testing.T, d *deferringMemStore) *watchCache {
	t.Helper()
	kinds := &kindRecorder{t: t, seen: map[runtime.Object]bool{}}
	c := newWatchCache("/registry/core/configmaps/", d, kinds.setKind)
	if err := c.ensureRunning(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

func updateCM(t *testing.T, m *memStore, ns, name, v string) {
	t.Helper()
	_, err := m.GuaranteedUpdate(context.Background(), "/registry/core/configmaps/"+ns+"/"+name, nil,
		func(cur runtime.Object) (runtime.Object, error) {
			cur.(*corev1.ConfigMap).Data = map[string]string{"k": v}
			return cur, nil
		})
	if err != nil {
		t.Fatal(err)
	}
}

func deleteCM(t *testing.T, m *memStore, ns, name string) {
	t.Helper()
	if _, err := m.Delete(context.Background(), "/registry/core/configmaps/"+ns+"/"+name, nil, nil); err != nil {
		t.Fatal(err)
	}
}

// Each change's previous object is the object the cache dispatched for
// the change before it: nothing is decoded, and nothing written twice.
func TestWatchCacheReusesPrevObjects(t *testing.T) {
	d := &deferringMemStore{memStore: newMemStore()}
	c := newDeferringCache(t, d)
	w, _ := c.watch("", 0)
	defer w.Stop()
	storeCM(t, d.memStore, "default", "a")
	updateCM(t, d.memStore, "default", "a", "v1")
	updateCM(t, d.memStore, "default", "a", "v2")
	deleteCM(t, d.memStore, "default", "a")
	evs := receive(t, w, 4)
	if n := d.loads.Load(); n != 0 {
		t.Errorf("%d previous values loaded, want 0", n)
	}
	for i, ev := range evs {
		if ev.LoadPrev != nil {
			t.Errorf("event %d left incomplete", i)
		}
		if ev.Object.GetObjectKind().GroupVersionKind().Kind != "ConfigMap" {
			t.Errorf("event %d: object without kind", i)
		}
		if mustRev(ev.Object) != ev.Revision {
			t.Errorf("event %d: object at %d, event at %d", i, mustRev(ev.Object), ev.Revision)
		}
		if i > 0 && ev.PrevObject != evs[i-1].Object {
			t.Errorf("event %d (%v): PrevObject is not the object of event %d", i, ev.Type, i-1)
		}
	}
	del := evs[3]
	if del.Type != watch.Deleted || del.Object == del.PrevObject || del.Object.(*corev1.ConfigMap).Data["k"] != "v2" {
		t.Errorf("delete: %v %v", del.Type, del.Object)
	}
}

// A previous value the cache does not hold at that revision is loaded:
// for an object last changed before the cache started, after its event
// left the ring, and after the cache restarted.
func TestWatchCacheLoadsPrevNotIndexed(t *testing.T) {
	checkPrev := func(t *testing.T, ev storage.Event, want string, rev int64) {
		t.Helper()
		if ev.Type != watch.Modified || ev.PrevObject == nil {
			t.Fatalf("%v without PrevObject", ev.Type)
		}
		if got := ev.PrevObject.(*corev1.ConfigMap).Data["k"]; got != want || mustRev(ev.PrevObject) != rev {
			t.Errorf("PrevObject %q at %d, want %q at %d", got, mustRev(ev.PrevObject), want, rev)
		}
	}
	t.Run("before start", func(t *testing.T) {
		d := &deferringMemStore{memStore: newMemStore()}
		storeCM(t, d.memStore, "default", "a")
		rev, _ := d.CurrentRevision(context.Background())
		c := newDeferringCache(t, d)
		w, _ := c.watch("", 0)
		defer w.Stop()
		updateCM(t, d.memStore, "default", "a", "v1")
		updateCM(t, d.memStore, "default", "a", "v2")
		evs := receive(t, w, 2)
		checkPrev(t, evs[0], "", rev)
		checkPrev(t, evs[1], "v1", evs[0].Revision)
		if n := d.loads.Load(); n != 1 {
			t.Errorf("%d previous values loaded, want 1", n)
		}
	})
	t.Run("evicted", func(t *testing.T) {
		d := &deferringMemStore{memStore: newMemStore()}
		c := newDeferringCache(t, d)
		w, _ := c.watch("", 0)
		defer w.Stop()
		n := watchCacheCapacity + 1
		go func() {
			obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "a"}}
			_, _ = d.Create(context.Background(), "/registry/core/configmaps/default/a", obj)
			for i := 0; i < n-1; i++ {
				obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("cm%d", i)}}
				_, _ = d.Create(context.Background(), "/registry/core/configmaps/default/"+obj.Name, obj)
			}
		}()
		evs := receive(t, w, n)
		// a's only event has left the ring; the newest one's has not.
		updateCM(t, d.memStore, "default", "a", "v1")
		updateCM(t, d.memStore, "default", "cm1023", "v1")
		got := receive(t, w, 2)
		checkPrev(t, got[0], "", evs[0].Revision)
		checkPrev(t, got[1], "", evs[n-1].Revision)
		if got[1].PrevObject != evs[n-1].Object {
			t.Error("the newest object in the ring was not reused")
		}
		if n := d.loads.Load(); n != 1 {
			t.Errorf("%d previous values loaded, want 1", n)
		}
	})
	t.Run("restart", func(t *testing.T) {
		d := &deferringMemStore{memStore: newMemStore()}
		c := newDeferringCache(t, d)
		w, _ := c.watch("", 0)
		storeCM(t, d.memStore, "default", "a")
		created := receive(t, w, 1)[0]
		// The storage watch ends: the cache closes its watchers and the
		// next watch starts it afresh, with nothing indexed.
		d.lastWatch().end()
		for range w.ResultChan() {
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			c.mu.Lock()
			running := c.running
			c.mu.Unlock()
			if !running {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("cache still running after its storage watch ended")
			}
			time.Sleep(time.Millisecond)
		}
		if err := c.ensureRunning(context.Background()); err != nil {
			t.Fatal(err)
		}
		w, _ = c.watch("", 0)
		defer w.Stop()
		updateCM(t, d.memStore, "default", "a", "v1")
		ev := receive(t, w, 1)[0]
		checkPrev(t, ev, "", created.Revision)
		if ev.PrevObject == created.Object {
			t.Error("a restarted cache reused an object of its previous run")
		}
		if n := d.loads.Load(); n != 1 {
			t.Errorf("%d previous values loaded, want 1", n)
		}
	})
}

// countingStore counts the previous values its etcd3 store's deferring
// watches decode.
type countingStore struct {
	storage.Interface
	loads atomic.Int64
}

func (s *countingStore) WatchDeferPrev(ctx context.Context, prefix string, opts storage.WatchOptions) (storage.Watcher, error) {
	w, err := s.Interface.(prevDeferringStore).WatchDeferPrev(ctx, prefix, opts)
	if err != nil {
		return nil, err
	}
	return relay(w, func(ev storage.Event) storage.Event {
		if load := ev.LoadPrev; load != nil {
			ev.LoadPrev = func() (runtime.Object, error) {
				s.loads.Add(1)
				return load()
			}
		}
		return ev
	}), nil
}

// Selector transitions through the watch cache over etcd: an object
// leaving the selection is DELETED as it was, at the revision it left;
// only previous values from before the cache started are decoded.
func TestWatchCachePrevOverEtcd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store := &countingStore{Interface: embeddedStore(ctx, t)}
	env := newTestEnv(t, func(cfg *Config) { cfg.Storage = store })
	cms := env.client.CoreV1().ConfigMaps("default")
	if _, err := cms.Create(ctx, cm("a", map[string]string{"sel": "yes"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Create(ctx, cm("b", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{LabelSelector: "sel=yes"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if ev := nextEvent(t, w); ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Name != "a" {
		t.Fatalf("initial event %v %v", ev.Type, ev.Object)
	}
	expect := func(step string, typ watch.EventType, name, rv string) *corev1.ConfigMap {
		t.Helper()
		ev := nextEvent(t, w)
		got, ok := ev.Object.(*corev1.ConfigMap)
		if ev.Type != typ || !ok || got.Name != name || (rv != "" && got.ResourceVersion != rv) {
			t.Fatalf("%s: %v %v, want %v of %s at %s", step, ev.Type, ev.Object, typ, name, rv)
		}
		return got
	}
	update := func(name string, f func(*corev1.ConfigMap)) *corev1.ConfigMap {
		t.Helper()
		obj, err := cms.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		f(obj)
		out, err := cms.Update(ctx, obj, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	b := update("b", func(o *corev1.ConfigMap) { o.Labels = map[string]string{"sel": "yes"} })
	expect("b entering", watch.Added, "b", b.ResourceVersion)
	a := update("a", func(o *corev1.ConfigMap) { o.Labels = nil; o.Data = map[string]string{"k": "gone"} })
	// The DELETED object is a's state before it left, at the revision it left.
	if left := expect("a leaving", watch.Deleted, "a", a.ResourceVersion); left.Labels["sel"] != "yes" || left.Data != nil {
		t.Errorf("a left as %v, want its state before", left)
	}
	a = update("a", func(o *corev1.ConfigMap) { o.Labels = map[string]string{"sel": "yes"} })
	expect("a back", watch.Added, "a", a.ResourceVersion)
	b = update("b", func(o *corev1.ConfigMap) { o.Data = map[string]string{"k": "v"} })
	expect("b modified", watch.Modified, "b", b.ResourceVersion)
	b = update("b", func(o *corev1.ConfigMap) { o.Labels = nil })
	expect("b leaving", watch.Deleted, "b", b.ResourceVersion)
	if err := cms.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if del := expect("a deleted", watch.Deleted, "a", ""); mustRev(del) <= mustRev(a) {
		t.Errorf("a deleted at %s, not after its last update at %s", del.ResourceVersion, a.ResourceVersion)
	}
	// a's and b's first updates followed writes from before the cache.
	if n := store.loads.Load(); n != 2 {
		t.Errorf("%d previous values decoded, want 2", n)
	}
}
