package apiserver

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/batchlet/batchlet/internal/storage"
)

func (m *memStore) watcherCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.watchers)
}

func TestWatchCacheSharesOneStorageWatch(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	cms := env.client.CoreV1().ConfigMaps("default")
	var ws []watch.Interface
	for i := 0; i < 5; i++ {
		w, err := cms.Watch(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		ws = append(ws, w)
	}
	all, err := env.client.CoreV1().ConfigMaps("").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer all.Stop()
	ws = append(ws, all)
	if n := env.store.watcherCount(); n != 1 {
		t.Errorf("%d storage watches for 6 watchers of one resource, want 1", n)
	}
	if _, err := cms.Create(ctx, cm("x", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, w := range ws {
		if ev := nextEvent(t, w); ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Name != "x" {
			t.Errorf("watcher %d: %v %v", i, ev.Type, ev.Object)
		}
	}
}

// An informer lists, then watches from the list's revision: its watch
// must come from the cache, not from a storage watch of its own, even
// when the list is the resource's first request.
func TestWatchAfterFirstListIsServedByCache(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	cms := env.client.CoreV1().ConfigMaps("default")
	list, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Writes between the list and the watch, as under load.
	for _, name := range []string{"x", "y"} {
		if _, err := cms.Create(ctx, cm(name, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if n := env.store.watcherCount(); n != 1 {
		t.Errorf("%d storage watches after a list and a watch from its revision, want the cache's 1", n)
	}
	for _, name := range []string{"x", "y"} {
		if ev := nextEvent(t, w); ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Name != name {
			t.Errorf("watch after list: %v %v, want ADDED %s", ev.Type, ev.Object, name)
		}
	}
}

// Once the cache runs, a watch from a recent revision is served from its
// ring even when storage has compacted that revision away.
func TestWatchCacheServesRecentRevisionsFromMemory(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	cms := env.client.CoreV1().ConfigMaps("default")
	starter, err := cms.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer starter.Stop()
	first, err := cms.Create(ctx, cm("a", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Create(ctx, cm("b", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a", "b"} {
		if ev := nextEvent(t, starter); ev.Object.(*corev1.ConfigMap).Name != want {
			t.Fatalf("starter got %v", ev.Object)
		}
	}
	env.store.compact()
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if ev := nextEvent(t, w); ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Name != "b" {
		t.Fatalf("from the ring: %v %v", ev.Type, ev.Object)
	}
	// Older than the cache: storage answers, and it has compacted.
	old, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: "1"})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Stop()
	if ev := nextEvent(t, old); ev.Type != watch.Error {
		t.Fatalf("too old a revision: %v %v", ev.Type, ev.Object)
	}
}

func newCacheForTest(t *testing.T, store *memStore) *watchCache {
	t.Helper()
	c := newWatchCache("/registry/core/configmaps/", store, func(runtime.Object) error { return nil })
	if err := c.ensureRunning(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

func storeCM(t *testing.T, m *memStore, ns, name string) {
	t.Helper()
	obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if _, err := m.Create(context.Background(), "/registry/core/configmaps/"+ns+"/"+name, obj); err != nil {
		t.Fatal(err)
	}
}

// receive reads n events or fails at the deadline.
func receive(t *testing.T, w storage.Watcher, n int) []storage.Event {
	t.Helper()
	var got []storage.Event
	deadline := time.After(5 * time.Second)
	for len(got) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("closed after %d of %d events", len(got), n)
			}
			got = append(got, ev)
		case <-deadline:
			t.Fatalf("got %d of %d events", len(got), n)
		}
	}
	return got
}

func TestWatchCacheDropsSlowWatcherOnly(t *testing.T) {
	store := newMemStore()
	c := newCacheForTest(t, store)
	slow, _ := c.watch("", 0)
	fast, _ := c.watch("", 0)
	defer fast.Stop()
	n := watcherBuffer + 20
	done := make(chan []storage.Event)
	go func() { done <- receiveNoFatal(fast, n) }()
	for i := 0; i < n; i++ {
		storeCM(t, store, "default", fmt.Sprintf("cm%d", i))
	}
	if got := <-done; len(got) != n {
		t.Fatalf("fast watcher got %d of %d events", len(got), n)
	}
	// The slow one got what fitted its buffer, then was closed.
	count := 0
	for range slow.ResultChan() {
		count++
	}
	if count != watcherBuffer {
		t.Errorf("slow watcher got %d events before being dropped, want %d", count, watcherBuffer)
	}
	slow.Stop() // stopping a dropped watcher is harmless
}

// receiveNoFatal is receive for goroutines: it returns what it got.
func receiveNoFatal(w storage.Watcher, n int) []storage.Event {
	var got []storage.Event
	deadline := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return got
			}
			got = append(got, ev)
		case <-deadline:
			return got
		}
	}
	return got
}

func TestWatchCacheNamespaceAndRevisions(t *testing.T) {
	store := newMemStore()
	c := newCacheForTest(t, store)
	start := c.since
	storeCM(t, store, "a", "one")
	storeCM(t, store, "b", "two")
	storeCM(t, store, "a", "three")
	// Backlog and live events alike arrive in order.
	all, ok := c.watch("", start)
	if !ok {
		t.Fatal("cache refused its own start revision")
	}
	defer all.Stop()
	evs := receive(t, all, 3)
	inA, ok := c.watch("a", start)
	if !ok {
		t.Fatal("cache refused a namespaced watch")
	}
	defer inA.Stop()
	got := receive(t, inA, 2)
	if got[0].Object.(*corev1.ConfigMap).Name != "one" || got[1].Object.(*corev1.ConfigMap).Name != "three" {
		t.Errorf("namespace a: %v, %v", got[0].Object, got[1].Object)
	}
	// From the second event's revision only the third follows.
	after, _ := c.watch("", evs[1].Revision)
	defer after.Stop()
	if got := receive(t, after, 1); got[0].Revision != evs[2].Revision {
		t.Errorf("resume after %d gave revision %d", evs[1].Revision, got[0].Revision)
	}
}

func TestWatchCacheRingEviction(t *testing.T) {
	store := newMemStore()
	c := newCacheForTest(t, store)
	w, _ := c.watch("", 0)
	defer w.Stop()
	n := watchCacheCapacity + 5
	go func() {
		for i := 0; i < n; i++ {
			obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("cm%d", i)}}
			_, _ = store.Create(context.Background(), "/registry/core/configmaps/default/"+obj.Name, obj)
		}
	}()
	evs := receive(t, w, n)
	if _, ok := c.watch("", evs[3].Revision); ok {
		t.Error("served a revision evicted from the ring")
	}
	r, ok := c.watch("", evs[5].Revision)
	if !ok {
		t.Fatal("refused the oldest revision still in the ring")
	}
	defer r.Stop()
	if got := receive(t, r, n-6); got[0].Revision != evs[6].Revision {
		t.Errorf("first replayed revision %d, want %d", got[0].Revision, evs[6].Revision)
	}
}
