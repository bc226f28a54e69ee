package etcd3

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/batchlet/batchlet/internal/storage"
)

// writeBehind changes the object at key behind the caller's back, as a
// write the first (local) read did not see yet.
func writeBehind(t *testing.T, s *store, key, value string) {
	t.Helper()
	_, err := s.GuaranteedUpdate(testCtx(t), key, nil, func(obj runtime.Object) (runtime.Object, error) {
		cm := obj.(*corev1.ConfigMap)
		cm.Data = map[string]string{"v": value}
		return cm, nil
	})
	if err != nil {
		t.Fatalf("concurrent write: %v", err)
	}
}

// TestGuaranteedUpdateRejudgesRefusalOnCurrentValue: a refusal decided on
// what may be a stale read is retried on the current value.
func TestGuaranteedUpdateRejudgesRefusalOnCurrentValue(t *testing.T) {
	s := newTestStore(t)
	key := testPrefix(t) + "cm"
	mustCreate(t, s, key, configMap("cm", map[string]string{"v": "old"}))
	calls := 0
	out, err := s.GuaranteedUpdate(testCtx(t), key, nil, func(obj runtime.Object) (runtime.Object, error) {
		calls++
		cm := obj.(*corev1.ConfigMap)
		if cm.Data["v"] == "old" {
			if calls == 1 {
				writeBehind(t, s, key, "new")
			}
			return nil, errors.New("refused: old value")
		}
		cm.Data["done"] = "yes"
		return cm, nil
	})
	if err != nil {
		t.Fatalf("GuaranteedUpdate: %v (after %d calls)", err, calls)
	}
	if got := out.(*corev1.ConfigMap).Data; got["v"] != "new" || got["done"] != "yes" {
		t.Fatalf("stored %v, want the update applied on the current value", got)
	}
}

// TestGuaranteedUpdateConfirmsNoOp: a no-op judged on a read that may be
// stale returns the current object, not the one first read.
func TestGuaranteedUpdateConfirmsNoOp(t *testing.T) {
	s := newTestStore(t)
	key := testPrefix(t) + "cm"
	mustCreate(t, s, key, configMap("cm", map[string]string{"v": "old"}))
	calls := 0
	out, err := s.GuaranteedUpdate(testCtx(t), key, nil, func(obj runtime.Object) (runtime.Object, error) {
		calls++
		if calls == 1 {
			writeBehind(t, s, key, "new")
		}
		return obj, nil
	})
	if err != nil {
		t.Fatalf("GuaranteedUpdate: %v", err)
	}
	if got := out.(*corev1.ConfigMap).Data["v"]; got != "new" {
		t.Fatalf("no-op returned v=%q, want the current %q", got, "new")
	}
	if calls != 2 {
		t.Fatalf("tryUpdate called %d times, want 2 (local read, then the current value)", calls)
	}
}

// TestDeleteRejudgesValidationOnCurrentValue mirrors the update case.
func TestDeleteRejudgesValidationOnCurrentValue(t *testing.T) {
	s := newTestStore(t)
	key := testPrefix(t) + "cm"
	mustCreate(t, s, key, configMap("cm", map[string]string{"v": "old"}))
	calls := 0
	_, err := s.Delete(testCtx(t), key, nil, func(obj runtime.Object) error {
		calls++
		if obj.(*corev1.ConfigMap).Data["v"] == "old" {
			if calls == 1 {
				writeBehind(t, s, key, "new")
			}
			return errors.New("refused: old value")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(testCtx(t), key); !storage.IsNotFound(err) {
		t.Fatalf("Get after delete: %v, want not found", err)
	}
}

func TestGetLocal(t *testing.T) {
	s := newTestStore(t)
	key := testPrefix(t) + "cm"
	created := mustCreate(t, s, key, configMap("cm", map[string]string{"v": "1"}))
	got, err := s.GetLocal(testCtx(t), key)
	if err != nil {
		t.Fatalf("GetLocal: %v", err)
	}
	if rvOf(t, got) != rvOf(t, created) || got.(*corev1.ConfigMap).Data["v"] != "1" {
		t.Fatalf("GetLocal = %+v, want the created object", got)
	}
	if _, err := s.GetLocal(testCtx(t), key+"-missing"); !storage.IsNotFound(err) {
		t.Fatalf("GetLocal of a missing key: %v, want not found", err)
	}
}
