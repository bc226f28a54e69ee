package etcd3

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/batchlet/batchlet/internal/storage"
)

// cachedOf is key's current value as a watch cache would hold it.
func cachedOf(t *testing.T, s *store, key string) storage.Cached {
	t.Helper()
	cur, err := s.readCurrent(testCtx(t), key)
	if err != nil {
		t.Fatal(err)
	}
	return storage.Cached{Object: cur.obj, Value: cur.data, Revision: cur.rev}
}

// An update from a cached value writes what the update function makes of
// a copy of it, and leaves the cached object alone.
func TestGuaranteedUpdateFromCurrentCache(t *testing.T) {
	s := newTestStore(t)
	key := testPrefix(t) + "a"
	mustCreate(t, s, key, configMap("a", map[string]string{"k": "v1"}))
	cached := cachedOf(t, s, key)
	out, err := s.GuaranteedUpdateFrom(testCtx(t), key, cached, nil, func(cur runtime.Object) (runtime.Object, error) {
		if cur == cached.Object {
			t.Error("the update function got the cached object itself")
		}
		cur.(*corev1.ConfigMap).Data["k"] = "v2"
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, s, key).(*corev1.ConfigMap); got.Data["k"] != "v2" || rvOf(t, got) != rvOf(t, out) {
		t.Fatalf("stored %v at %d, answered %d", got.Data, rvOf(t, got), rvOf(t, out))
	}
	if cached.Object.(*corev1.ConfigMap).Data["k"] != "v1" {
		t.Fatal("the cached object was changed")
	}
}

// A stale cached value fails the compare-and-swap: the update runs again
// on the current value, so nothing written since is lost.
func TestGuaranteedUpdateFromStaleCache(t *testing.T) {
	s := newTestStore(t)
	key := testPrefix(t) + "a"
	mustCreate(t, s, key, configMap("a", map[string]string{"k": "v1"}))
	stale := cachedOf(t, s, key)
	mustUpdate(t, s, key, func(cm *corev1.ConfigMap) { cm.Data["other"] = "kept" })
	calls := 0
	out, err := s.GuaranteedUpdateFrom(testCtx(t), key, stale, nil, func(cur runtime.Object) (runtime.Object, error) {
		calls++
		cur.(*corev1.ConfigMap).Data["k"] = "v2"
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, s, key).(*corev1.ConfigMap)
	if got.Data["k"] != "v2" || got.Data["other"] != "kept" || rvOf(t, got) != rvOf(t, out) {
		t.Fatalf("stored %v at %d, answered %d", got.Data, rvOf(t, got), rvOf(t, out))
	}
	if calls != 2 {
		t.Errorf("update function ran %d times, want 2 (stale, then current)", calls)
	}
}

// A refusal judged on a stale cached value is judged again on the current
// one; a no-op on a stale value is confirmed before nothing is written.
func TestGuaranteedUpdateFromStaleCacheRejudges(t *testing.T) {
	s := newTestStore(t)
	key := testPrefix(t) + "a"
	mustCreate(t, s, key, configMap("a", map[string]string{"k": "v1"}))
	stale := cachedOf(t, s, key)
	mustUpdate(t, s, key, func(cm *corev1.ConfigMap) { cm.Data["k"] = "v2" })
	current := mustGet(t, s, key)

	// A precondition on the current resourceVersion, as an update with
	// the object's resourceVersion makes it.
	want := current.(*corev1.ConfigMap).ResourceVersion
	out, err := s.GuaranteedUpdateFrom(testCtx(t), key, stale, nil, func(cur runtime.Object) (runtime.Object, error) {
		cm := cur.(*corev1.ConfigMap)
		if cm.ResourceVersion != want {
			return nil, apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, "a", nil)
		}
		cm.Data["k"] = "v3"
		return cm, nil
	})
	if err != nil {
		t.Fatalf("refused on the stale value: %v", err)
	}
	if got := out.(*corev1.ConfigMap).Data["k"]; got != "v3" {
		t.Fatalf("answered %q", got)
	}

	// Unchanged against the stale value is not unchanged against the
	// current one: the update runs again and writes.
	staleAgain := cachedOf(t, s, key)
	mustUpdate(t, s, key, func(cm *corev1.ConfigMap) { cm.Data["k"] = "v4" })
	out, err = s.GuaranteedUpdateFrom(testCtx(t), key, staleAgain, nil, func(cur runtime.Object) (runtime.Object, error) {
		cur.(*corev1.ConfigMap).Data["k"] = "v3"
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, s, key).(*corev1.ConfigMap); got.Data["k"] != "v3" || rvOf(t, got) != rvOf(t, out) {
		t.Fatalf("stored %v at %d, answered %d", got.Data, rvOf(t, got), rvOf(t, out))
	}
}

// An incomplete cached value falls back to reading the key.
func TestGuaranteedUpdateFromIncompleteCache(t *testing.T) {
	s := newTestStore(t)
	key := testPrefix(t) + "a"
	mustCreate(t, s, key, configMap("a", map[string]string{"k": "v1"}))
	cached := cachedOf(t, s, key)
	cached.Value = nil
	out, err := s.GuaranteedUpdateFrom(testCtx(t), key, cached, nil, func(cur runtime.Object) (runtime.Object, error) {
		cur.(*corev1.ConfigMap).Data["k"] = "v2"
		return cur, nil
	})
	if err != nil || out.(*corev1.ConfigMap).Data["k"] != "v2" {
		t.Fatalf("answered %v, %v", out, err)
	}
}

// Watch events carry the stored bytes of their object, which a cache
// hands back as Cached.Value; a deleted key's event has none.
func TestWatchEventsCarryStoredValue(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	prefix := testPrefix(t)
	w, err := s.Watch(ctx, prefix, storage.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	mustCreate(t, s, prefix+"a", configMap("a", map[string]string{"k": "v1"}))
	mustUpdate(t, s, prefix+"a", func(cm *corev1.ConfigMap) { cm.Data["k"] = "v2" })
	if _, err := s.Delete(ctx, prefix+"a", nil, nil); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"v1", "v2"} {
		ev := nextEvent(t, w)
		if ev.Value == nil {
			t.Fatalf("event %d (%v) without its stored value", i, ev.Type)
		}
		obj, err := s.codec.decode(ev.Value, ev.Revision)
		if err != nil {
			t.Fatal(err)
		}
		if got := obj.(*corev1.ConfigMap).Data["k"]; got != want || rvOf(t, obj) != rvOf(t, ev.Object) {
			t.Fatalf("event %d: value decodes to %q at %d, want %q at %d", i, got, rvOf(t, obj), want, rvOf(t, ev.Object))
		}
	}
	if ev := nextEvent(t, w); ev.Value != nil {
		t.Fatalf("deleted event with a value")
	}
}
