package etcd3

import (
	"testing"

	"github.com/batchlet/batchlet/internal/storage"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// Watch hands every consumer complete events: a delete's two objects are
// distinct, and each event names its key and previous revision.
func TestWatchDeleteObjectsAndKeys(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	prefix := testPrefix(t)
	start, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	created := mustCreate(t, s, prefix+"a", configMap("a", map[string]string{"k": "v1"}))
	if _, err := s.Delete(ctx, prefix+"a", nil, nil); err != nil {
		t.Fatal(err)
	}
	w, err := s.Watch(ctx, prefix, storage.WatchOptions{Revision: start})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	added := nextEvent(t, w)
	if added.Key != prefix+"a" || added.PrevRevision != 0 || added.LoadPrev != nil {
		t.Errorf("Added: key %q prev revision %d LoadPrev set %v", added.Key, added.PrevRevision, added.LoadPrev != nil)
	}
	del := nextEvent(t, w)
	if del.Type != watch.Deleted || del.LoadPrev != nil || del.Key != prefix+"a" || del.PrevRevision != rvOf(t, created) {
		t.Fatalf("Deleted: %v key %q prev revision %d LoadPrev set %v", del.Type, del.Key, del.PrevRevision, del.LoadPrev != nil)
	}
	if del.Object == del.PrevObject {
		t.Fatal("Deleted: Object and PrevObject are one object")
	}
	if rvOf(t, del.Object) != del.Revision || rvOf(t, del.PrevObject) != rvOf(t, created) {
		t.Errorf("Deleted: Object at %d, PrevObject at %d; want %d and %d",
			rvOf(t, del.Object), rvOf(t, del.PrevObject), del.Revision, rvOf(t, created))
	}
	if del.Object.(*corev1.ConfigMap).Data["k"] != "v1" || del.PrevObject.(*corev1.ConfigMap).Data["k"] != "v1" {
		t.Errorf("Deleted: objects %v, %v, want the last state", del.Object, del.PrevObject)
	}
}

// WatchDeferPrev leaves previous values to the consumer, which may supply
// an object it holds at that revision or have LoadPrev decode it.
func TestWatchDeferPrev(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	prefix := testPrefix(t)
	start, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	created := mustCreate(t, s, prefix+"a", configMap("a", map[string]string{"k": "v1"}))
	for _, v := range []string{"v2", "v3"} {
		if _, err := s.GuaranteedUpdate(ctx, prefix+"a", nil, setData(v)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Delete(ctx, prefix+"a", nil, nil); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, prefix+"b", configMap("b", map[string]string{"k": "b1"}))
	if _, err := s.Delete(ctx, prefix+"b", nil, nil); err != nil {
		t.Fatal(err)
	}

	w, err := s.WatchDeferPrev(ctx, prefix, storage.WatchOptions{Revision: start})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	evs := make([]storage.Event, 6)
	for i := range evs {
		evs[i] = nextEvent(t, w)
	}
	for i, ev := range evs {
		// Added has no previous value to defer.
		if ev.Type == watch.Added {
			if ev.LoadPrev != nil || ev.Object == nil || (i != 0 && i != 4) {
				t.Fatalf("event %d: Added, LoadPrev set %v", i, ev.LoadPrev != nil)
			}
			continue
		}
		wantObject := ev.Type == watch.Modified
		if ev.LoadPrev == nil || ev.PrevObject != nil || (ev.Object != nil) != wantObject {
			t.Fatalf("event %d (%v) not deferred: LoadPrev set %v, PrevObject %v, Object %v",
				i, ev.Type, ev.LoadPrev != nil, ev.PrevObject, ev.Object)
		}
		if ev.PrevRevision >= ev.Revision || ev.PrevRevision == 0 {
			t.Errorf("event %d: previous revision %d, revision %d", i, ev.PrevRevision, ev.Revision)
		}
	}

	// Nothing known: the previous value is decoded.
	first := evs[1]
	if err := first.CompletePrev(nil); err != nil {
		t.Fatal(err)
	}
	if prev := first.PrevObject.(*corev1.ConfigMap); prev.Data["k"] != "v1" || rvOf(t, prev) != rvOf(t, created) || first.LoadPrev != nil {
		t.Errorf("decoded PrevObject %v, want v1 at %d", prev, rvOf(t, created))
	}
	// Known: used as it is.
	second := evs[2]
	if second.PrevRevision != first.Revision {
		t.Fatalf("second update's previous revision %d, want %d", second.PrevRevision, first.Revision)
	}
	if err := second.CompletePrev(first.Object); err != nil {
		t.Fatal(err)
	}
	if second.PrevObject != first.Object {
		t.Error("a known previous object was not used")
	}
	// A delete with its previous object known: Object is a copy at the
	// deletion revision, and the known object is left as it was.
	del := evs[3]
	known := second.Object
	knownRV := rvOf(t, known)
	if err := del.CompletePrev(known); err != nil {
		t.Fatal(err)
	}
	if del.PrevObject != known || del.Object == known {
		t.Error("Deleted: PrevObject is not the known object, or Object is")
	}
	if rvOf(t, del.Object) != del.Revision || del.Object.(*corev1.ConfigMap).Data["k"] != "v3" || rvOf(t, known) != knownRV {
		t.Errorf("Deleted: Object %v at %d; known object now at %d, was %d",
			del.Object, rvOf(t, del.Object), rvOf(t, known), knownRV)
	}
	// A delete decoded: two objects at their two revisions.
	delB := evs[5]
	if err := delB.CompletePrev(nil); err != nil {
		t.Fatal(err)
	}
	if delB.Object == delB.PrevObject || rvOf(t, delB.Object) != delB.Revision ||
		rvOf(t, delB.PrevObject) != delB.PrevRevision || delB.PrevObject.(*corev1.ConfigMap).Data["k"] != "b1" {
		t.Errorf("Deleted b: Object %v, PrevObject %v", delB.Object, delB.PrevObject)
	}
}
