package etcd3

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/batchlet/batchlet/internal/storage"
	corev1 "k8s.io/api/core/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

const eventTimeout = 10 * time.Second

func nextEvent(t *testing.T, w storage.Watcher) storage.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch channel closed")
		}
		return ev
	case <-time.After(eventTimeout):
		t.Fatal("no watch event within deadline")
	}
	return storage.Event{}
}

func expectClosed(t *testing.T, w storage.Watcher) {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if ok {
			t.Fatalf("unexpected event %v after the end", ev.Type)
		}
	case <-time.After(eventTimeout):
		t.Fatal("watch channel not closed within deadline")
	}
}

func setData(v string) storage.UpdateFunc {
	return func(o k8sruntime.Object) (k8sruntime.Object, error) {
		o.(*corev1.ConfigMap).Data = map[string]string{"k": v}
		return o, nil
	}
}

func TestWatchFromRevision(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	prefix := testPrefix(t)
	// Events before the watch's revision are not replayed.
	mustCreate(t, s, prefix+"old", configMap("old", nil))
	start, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	created := mustCreate(t, s, prefix+"a", configMap("a", map[string]string{"k": "v1"}))
	updated, err := s.GuaranteedUpdate(ctx, prefix+"a", nil, setData("v2"))
	if err != nil {
		t.Fatal(err)
	}
	deleted, err := s.Delete(ctx, prefix+"a", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Keys outside the prefix are not seen.
	mustCreate(t, s, strings.TrimSuffix(prefix, "/")+"-other/x", configMap("x", nil))

	w, err := s.Watch(ctx, prefix, storage.WatchOptions{Revision: start})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	ev := nextEvent(t, w)
	if ev.Type != watch.Added || ev.PrevObject != nil || rvOf(t, ev.Object) != rvOf(t, created) || ev.Revision != rvOf(t, created) {
		t.Errorf("first event %v rv %s prev %v, want Added at %d", ev.Type, ev.Object.(*corev1.ConfigMap).ResourceVersion, ev.PrevObject, rvOf(t, created))
	}
	ev = nextEvent(t, w)
	if ev.Type != watch.Modified || ev.Object.(*corev1.ConfigMap).Data["k"] != "v2" || rvOf(t, ev.Object) != rvOf(t, updated) {
		t.Errorf("second event %v %v, want Modified to v2", ev.Type, ev.Object)
	}
	if prev, ok := ev.PrevObject.(*corev1.ConfigMap); !ok || prev.Data["k"] != "v1" || rvOf(t, prev) != rvOf(t, created) {
		t.Errorf("Modified PrevObject = %v, want v1 at %d", ev.PrevObject, rvOf(t, created))
	}
	ev = nextEvent(t, w)
	if ev.Type != watch.Deleted || rvOf(t, ev.Object) != rvOf(t, deleted) || ev.Object.(*corev1.ConfigMap).Data["k"] != "v2" {
		t.Errorf("third event %v %v, want Deleted of v2 at %d", ev.Type, ev.Object, rvOf(t, deleted))
	}
	if prev, ok := ev.PrevObject.(*corev1.ConfigMap); !ok || rvOf(t, prev) != rvOf(t, updated) {
		t.Errorf("Deleted PrevObject = %v, want the state at %d", ev.PrevObject, rvOf(t, updated))
	}

	// A live change arrives too.
	live := mustCreate(t, s, prefix+"b", configMap("b", nil))
	if ev = nextEvent(t, w); ev.Type != watch.Added || rvOf(t, ev.Object) != rvOf(t, live) {
		t.Errorf("live event %v at %d, want Added at %d", ev.Type, ev.Revision, rvOf(t, live))
	}
}

func TestWatchFromNow(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	prefix := testPrefix(t)
	mustCreate(t, s, prefix+"before", configMap("before", nil))
	w, err := s.Watch(ctx, prefix, storage.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	mustCreate(t, s, prefix+"after", configMap("after", nil))
	if ev := nextEvent(t, w); ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Name != "after" {
		t.Errorf("first event %v %v, want Added of after", ev.Type, ev.Object)
	}
}

func TestWatchStopAndCancelEndTheWatch(t *testing.T) {
	s := newTestStore(t)
	prefix := testPrefix(t)
	baseline := runtime.NumGoroutine()

	w, err := s.Watch(testCtx(t), prefix, storage.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Stop()
	w.Stop() // idempotent
	expectClosed(t, w)

	ctx, cancel := context.WithCancel(testCtx(t))
	w, err = s.Watch(ctx, prefix, storage.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	expectClosed(t, w)
	w.Stop()

	// Goroutines of ended watches go away (etcd's client may keep its
	// stream goroutines briefly).
	deadline := time.After(eventTimeout)
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for runtime.NumGoroutine() > baseline+2 {
		select {
		case <-deadline:
			t.Fatalf("%d goroutines, started with %d", runtime.NumGoroutine(), baseline)
		case <-poll.C:
		}
	}
}

func TestWatchSlowConsumerGetsAnError(t *testing.T) {
	s := newTestStore(t)
	s.watchQueueLimit = 3
	ctx := testCtx(t)
	prefix := testPrefix(t)
	start, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		mustCreate(t, s, prefix+n, configMap(n, nil))
	}
	w, err := s.Watch(ctx, prefix, storage.WatchOptions{Revision: start})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var added int
	for {
		ev := nextEvent(t, w)
		if ev.Type == watch.Error {
			if ev.Err == nil || storage.IsExpired(ev.Err) {
				t.Errorf("overflow error = %v", ev.Err)
			}
			break
		}
		added++
	}
	if added > 6 {
		t.Errorf("%d events before the error", added)
	}
	expectClosed(t, w)
}

func TestCompactedRevision(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	prefix := testPrefix(t)
	createN(t, s, prefix, 4)
	page, err := s.List(ctx, prefix, storage.ListOptions{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	old := page.ResourceVersion
	mustCreate(t, s, prefix+"later", configMap("later", nil))
	mustCreate(t, s, prefix+"later2", configMap("later2", nil))
	cur, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testClient.Compact(ctx, cur); err != nil {
		t.Fatal(err)
	}

	_, err = s.List(ctx, prefix, storage.ListOptions{Limit: 2, Continue: page.Continue})
	if !storage.IsExpired(err) || !strings.Contains(err.Error(), inconsistentContinueMessage) {
		t.Errorf("continue after compaction: %v, want Expired", err)
	}
	_, err = s.List(ctx, prefix, storage.ListOptions{ResourceVersion: "1", ResourceVersionMatch: "Exact"})
	if !storage.IsExpired(err) {
		t.Errorf("Exact list at a compacted revision: %v, want Expired", err)
	}

	w, err := s.Watch(ctx, prefix, storage.WatchOptions{Revision: old})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ev := nextEvent(t, w)
	if ev.Type != watch.Error || !storage.IsExpired(ev.Err) {
		t.Errorf("watch from a compacted revision: %v %v, want an Expired error event", ev.Type, ev.Err)
	}
	expectClosed(t, w)

	// The current revision is still watchable.
	w2, err := s.Watch(ctx, prefix, storage.WatchOptions{Revision: cur})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	mustCreate(t, s, prefix+"new", configMap("new", nil))
	if ev := nextEvent(t, w2); ev.Type != watch.Added {
		t.Errorf("watch at the compaction revision: %v %v", ev.Type, ev.Err)
	}
}
