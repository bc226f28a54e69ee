package apiserver

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/batchlet/batchlet/internal/storage"
	"github.com/batchlet/batchlet/internal/storage/embedded"
	"github.com/batchlet/batchlet/internal/storage/etcd3"
)

// embeddedStore is an etcd3 store over an embedded etcd that lives until
// the test ends.
func embeddedStore(ctx context.Context, t *testing.T) storage.Interface {
	t.Helper()
	e, err := embedded.Start(ctx, embedded.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return etcd3.New(e.Client())
}

// cachedUpdateCounter counts the updates that start from the watch
// cache's value.
type cachedUpdateCounter struct {
	storage.Interface
	fromCache atomic.Int64
}

func (s *cachedUpdateCounter) GuaranteedUpdateFrom(ctx context.Context, key string, cached storage.Cached, pre *storage.Preconditions, try storage.UpdateFunc) (runtime.Object, error) {
	s.fromCache.Add(1)
	return s.Interface.(storage.CachedUpdater).GuaranteedUpdateFrom(ctx, key, cached, pre, try)
}

// Once the watch cache holds an object, updates start from it, and they
// are judged as updates read from storage are: a stale resourceVersion
// is a conflict, a current one succeeds.
func TestUpdatesStartFromTheWatchCache(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store := &cachedUpdateCounter{Interface: embeddedStore(ctx, t)}
	env := newTestEnv(t, func(cfg *Config) { cfg.Storage = store })
	cms := env.client.CoreV1().ConfigMaps("default")
	first := cm("a", nil)
	first.Data = map[string]string{"k": "v1"}
	created, err := cms.Create(ctx, first, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A watch starts the cache; it holds what changes from then on.
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: created.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	update := func(obj *corev1.ConfigMap, data string) (*corev1.ConfigMap, error) {
		obj = obj.DeepCopy()
		obj.Data = map[string]string{"k": data}
		return cms.Update(ctx, obj, metav1.UpdateOptions{})
	}
	v2, err := update(created, "v2")
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, w); ev.Object.(*corev1.ConfigMap).ResourceVersion != v2.ResourceVersion {
		t.Fatalf("event at %s, want %s", ev.Object.(*corev1.ConfigMap).ResourceVersion, v2.ResourceVersion)
	}
	before := store.fromCache.Load()
	v3, err := update(v2, "v3")
	if err != nil {
		t.Fatal(err)
	}
	if store.fromCache.Load() != before+1 {
		t.Fatalf("the update after the cache saw the object read it from storage")
	}
	nextEvent(t, w)
	if _, err := update(v2, "stale"); !apierrors.IsConflict(err) {
		t.Fatalf("update at a stale resourceVersion: %v, want a conflict", err)
	}
	got, err := cms.Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["k"] != "v3" || got.ResourceVersion != v3.ResourceVersion {
		t.Fatalf("stored %v at %s, want v3 at %s", got.Data, got.ResourceVersion, v3.ResourceVersion)
	}
}
