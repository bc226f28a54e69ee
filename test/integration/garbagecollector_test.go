package integration

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/batchlet/batchlet/internal/server/servertest"
)

// TestIntegrationPropagation deletes owners with each policy on a real
// in-process server and waits for its garbage collector to act.
func TestIntegrationPropagation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	s := servertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	cms := s.Client.CoreV1().ConfigMaps("default")
	mk := func(name string, owner *corev1.ConfigMap) *corev1.ConfigMap {
		t.Helper()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if owner != nil {
			cm.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
		}
		created, err := cms.Create(ctx, cm, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return created
	}
	gone := func(name string) func(context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			_, err := cms.Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		}
	}
	waitFor := func(what string, cond func(context.Context) (bool, error)) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 20*time.Second, true, cond); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	del := func(name string, policy metav1.DeletionPropagation) {
		t.Helper()
		if err := cms.Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("Background", func(t *testing.T) {
		o := mk("bg-owner", nil)
		mk("bg-dep", o)
		del("bg-owner", metav1.DeletePropagationBackground)
		waitFor("dependent deleted", gone("bg-dep"))
	})
	t.Run("Foreground", func(t *testing.T) {
		o := mk("fg-owner", nil)
		d := mk("fg-dep", o)
		mk("fg-grandchild", d)
		del("fg-owner", metav1.DeletePropagationForeground)
		waitFor("owner deleted", gone("fg-owner"))
		for _, n := range []string{"fg-dep", "fg-grandchild"} {
			if ok, _ := gone(n)(ctx); !ok {
				t.Errorf("%s outlived its foreground-deleted owner", n)
			}
		}
	})
	t.Run("Orphan", func(t *testing.T) {
		o := mk("or-owner", nil)
		mk("or-dep", o)
		del("or-owner", metav1.DeletePropagationOrphan)
		waitFor("owner deleted", gone("or-owner"))
		dep, err := cms.Get(ctx, "or-dep", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("orphaned dependent: %v", err)
		}
		if len(dep.OwnerReferences) != 0 {
			t.Fatalf("owner references left: %+v", dep.OwnerReferences)
		}
	})
}
