package etcd3

import (
	"errors"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"strconv"
	"sync"
	"testing"

	"github.com/batchlet/batchlet/internal/storage"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func increment(obj runtime.Object) (runtime.Object, error) {
	cm := obj.(*corev1.ConfigMap)
	n, err := strconv.Atoi(cm.Labels["count"])
	if err != nil {
		return nil, err
	}
	if cm.Labels == nil {
		cm.Labels = map[string]string{}
	}
	cm.Labels["count"] = strconv.Itoa(n + 1)
	return cm, nil
}

func TestGuaranteedUpdateConcurrentIncrements(t *testing.T) {
	s := newTestStore(t)
	key := testPrefix(t) + "counter"
	cm := configMap("counter", nil)
	cm.Labels = map[string]string{"count": "0"}
	mustCreate(t, s, key, cm)

	const workers, perWorker = 20, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWorker {
				if _, err := s.GuaranteedUpdate(testCtx(t), key, nil, increment); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("GuaranteedUpdate: %v", err)
	}
	got := mustGet(t, s, key).(*corev1.ConfigMap)
	if want := strconv.Itoa(workers * perWorker); got.Labels["count"] != want {
		t.Errorf("count = %s, want %s", got.Labels["count"], want)
	}
}

func TestGuaranteedUpdateWritesAndReturnsNewRevision(t *testing.T) {
	s := newTestStore(t)
	key := testPrefix(t) + "a"
	created := mustCreate(t, s, key, configMap("a", map[string]string{"k": "v1"}))
	var seen int64
	out, err := s.GuaranteedUpdate(testCtx(t), key, nil, func(cur runtime.Object) (runtime.Object, error) {
		// The object returned becomes the store's: note what it saw now.
		seen = rvOf(t, cur)
		cm := cur.(*corev1.ConfigMap)
		cm.Data["k"] = "v2"
		return cm, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != rvOf(t, created) {
		t.Errorf("tryUpdate saw resourceVersion %d, want %d", seen, rvOf(t, created))
	}
	if rvOf(t, out) <= rvOf(t, created) {
		t.Errorf("updated resourceVersion %d not after %d", rvOf(t, out), rvOf(t, created))
	}
	got := mustGet(t, s, key).(*corev1.ConfigMap)
	if got.Data["k"] != "v2" || rvOf(t, got) != rvOf(t, out) {
		t.Errorf("stored %v at %d, want v2 at %d", got.Data, rvOf(t, got), rvOf(t, out))
	}
	// The object written in place comes back as a read gives it: no kind.
	if !apiequality.Semantic.DeepEqual(out, got) {
		t.Errorf("returned %#v, a read gives %#v", out, got)
	}
}

func TestGuaranteedUpdateUnchangedWritesNothing(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	key := testPrefix(t) + "a"
	created := mustCreate(t, s, key, configMap("a", map[string]string{"k": "v"}))
	before, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.GuaranteedUpdate(ctx, key, nil, func(cur runtime.Object) (runtime.Object, error) {
		// A changed resourceVersion alone is not a change.
		cur.(metav1.Object).SetResourceVersion("1")
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	after, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("no-op update moved the revision from %d to %d", before, after)
	}
	if rvOf(t, out) != rvOf(t, created) {
		t.Errorf("no-op update returned resourceVersion %d, want %d", rvOf(t, out), rvOf(t, created))
	}
}

// An update function may change the object it is given: when what it
// returns changes nothing, the answer is the stored value, not what the
// function did to its argument.
func TestGuaranteedUpdateNoOpAnswersStoredValue(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	key := testPrefix(t) + "a"
	created := mustCreate(t, s, key, configMap("a", map[string]string{"k": "v"}))
	// Twice: the first starts from a local read, which a quorum read
	// confirms; the second runs after a lost race, on a confirmed value.
	for _, race := range []bool{false, true} {
		raced := false
		out, err := s.GuaranteedUpdate(ctx, key, nil, func(cur runtime.Object) (runtime.Object, error) {
			if race && !raced {
				raced = true
				// Another writer changes the key and back: a new
				// revision with the same value.
				mustUpdate(t, s, key, func(cm *corev1.ConfigMap) { cm.Data["k"] = "other" })
				mustUpdate(t, s, key, func(cm *corev1.ConfigMap) { cm.Data["k"] = "v" })
			}
			unchanged := cur.DeepCopyObject()
			cur.(*corev1.ConfigMap).Data["k"] = "scribbled"
			return unchanged, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := out.(*corev1.ConfigMap).Data["k"]; got != "v" {
			t.Fatalf("race %v: answered data %q, want the stored %q", race, got, "v")
		}
		stored := mustGet(t, s, key)
		if rvOf(t, out) != rvOf(t, stored) || (!race && rvOf(t, out) != rvOf(t, created)) {
			t.Fatalf("race %v: answered resourceVersion %d, stored %d", race, rvOf(t, out), rvOf(t, stored))
		}
	}
}

func TestGuaranteedUpdateErrors(t *testing.T) {
	s := newTestStore(t)
	key := testPrefix(t) + "a"
	created := mustCreate(t, s, key, configMap("a", nil))
	rv := created.(metav1.Object).GetResourceVersion()
	sentinel := errors.New("refused")
	identity := func(cur runtime.Object) (runtime.Object, error) { return cur, nil }

	tests := []struct {
		name    string
		key     string
		pre     *storage.Preconditions
		update  storage.UpdateFunc
		check   func(error) bool
		message string
	}{
		{name: "missing key", key: key + "-missing", update: identity, check: storage.IsNotFound},
		{name: "tryUpdate error passes through", key: key, update: func(runtime.Object) (runtime.Object, error) { return nil, sentinel },
			check: func(err error) bool { return err == sentinel }},
		{name: "UID precondition", key: key, pre: &storage.Preconditions{UID: ptr.To(types.UID("other"))}, update: identity,
			check: storage.IsConflict, message: "Precondition failed: UID in precondition: other, UID in object meta: uid-a"},
		{name: "resourceVersion precondition", key: key, pre: &storage.Preconditions{ResourceVersion: ptr.To("1")}, update: identity,
			check: storage.IsConflict, message: "Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: " + rv},
		{name: "preconditions that hold", key: key, pre: &storage.Preconditions{UID: ptr.To(types.UID("uid-a")), ResourceVersion: ptr.To(rv)},
			update: identity, check: func(err error) bool { return err == nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.GuaranteedUpdate(testCtx(t), tc.key, tc.pre, tc.update)
			if !tc.check(err) {
				t.Fatalf("got error %v", err)
			}
			var se *storage.Error
			if tc.message != "" && (!errors.As(err, &se) || se.Message != tc.message) {
				t.Errorf("message = %q, want %q", se.Message, tc.message)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	key := testPrefix(t) + "a"
	created := mustCreate(t, s, key, configMap("a", map[string]string{"k": "v"}))

	if _, err := s.Delete(ctx, key, &storage.Preconditions{UID: ptr.To(types.UID("other"))}, nil); !storage.IsConflict(err) {
		t.Errorf("Delete with wrong UID: %v, want conflict", err)
	}
	refused := errors.New("refused")
	if _, err := s.Delete(ctx, key, nil, func(runtime.Object) error { return refused }); err != refused {
		t.Errorf("Delete refused by validate: %v, want %v", err, refused)
	}
	out, err := s.Delete(ctx, key, &storage.Preconditions{UID: ptr.To(types.UID("uid-a"))}, nil)
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if cm := out.(*corev1.ConfigMap); cm.Data["k"] != "v" || rvOf(t, cm) <= rvOf(t, created) {
		t.Errorf("Delete returned %v at %s, want the last state at the deletion revision", cm.Data, cm.ResourceVersion)
	}
	if _, err := s.Get(ctx, key); !storage.IsNotFound(err) {
		t.Errorf("Get after Delete: %v, want not found", err)
	}
	if _, err := s.Delete(ctx, key, nil, nil); !storage.IsNotFound(err) {
		t.Errorf("second Delete: %v, want not found", err)
	}
}

// A write between Delete's read and its compare-and-swap makes Delete check
// the new state again.
func TestDeleteRechecksAfterLostRace(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	key := testPrefix(t) + "a"
	mustCreate(t, s, key, configMap("a", map[string]string{"k": "v1"}))
	var validated []string
	out, err := s.Delete(ctx, key, nil, func(cur runtime.Object) error {
		v := cur.(*corev1.ConfigMap).Data["k"]
		validated = append(validated, v)
		if v == "v1" {
			_, err := s.GuaranteedUpdate(ctx, key, nil, func(o runtime.Object) (runtime.Object, error) {
				o.(*corev1.ConfigMap).Data["k"] = "v2"
				return o, nil
			})
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if len(validated) != 2 || validated[1] != "v2" {
		t.Errorf("validate saw %v, want [v1 v2]", validated)
	}
	if got := out.(*corev1.ConfigMap).Data["k"]; got != "v2" {
		t.Errorf("Delete returned state %q, want v2", got)
	}
}

// TestGuaranteedUpdateUnchangedJudgedOnce: a no-op update whose local read
// turns out current is not computed a second time (each try of an API
// update runs defaulting, validation and managedFields tracking).
func TestGuaranteedUpdateUnchangedJudgedOnce(t *testing.T) {
	s := newTestStore(t)
	key := testPrefix(t) + "a"
	mustCreate(t, s, key, configMap("a", map[string]string{"k": "v"}))
	tries := 0
	if _, err := s.GuaranteedUpdate(testCtx(t), key, nil, func(cur runtime.Object) (runtime.Object, error) {
		tries++
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	if tries != 1 {
		t.Errorf("a no-op update on a current value was tried %d times, want 1", tries)
	}
}

// TestGuaranteedUpdateUnchangedOnStaleReadRetries: a no-op judged on a
// value that changed since is judged again on the current one.
func TestGuaranteedUpdateUnchangedOnStaleReadRetries(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	key := testPrefix(t) + "a"
	mustCreate(t, s, key, configMap("a", map[string]string{"k": "v"}))
	var seen []string
	out, err := s.GuaranteedUpdate(ctx, key, nil, func(cur runtime.Object) (runtime.Object, error) {
		cm := cur.(*corev1.ConfigMap)
		seen = append(seen, cm.Data["k"])
		if len(seen) == 1 {
			// Someone else writes between the read and the judgement.
			if _, err := s.GuaranteedUpdate(ctx, key, nil, func(o runtime.Object) (runtime.Object, error) {
				o.(*corev1.ConfigMap).Data["k"] = "other"
				return o, nil
			}); err != nil {
				return nil, err
			}
		}
		return cm, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(*corev1.ConfigMap).Data["k"]; got != "other" || len(seen) != 2 || seen[0] != "v" || seen[1] != "other" {
		t.Errorf("tries saw %v, result %q", seen, got)
	}
}

func mustUpdate(t *testing.T, s storage.Interface, key string, change func(*corev1.ConfigMap)) {
	t.Helper()
	if _, err := s.GuaranteedUpdate(testCtx(t), key, nil, func(cur runtime.Object) (runtime.Object, error) {
		change(cur.(*corev1.ConfigMap))
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
}
