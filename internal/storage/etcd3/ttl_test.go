package etcd3

import (
	"testing"
	"time"

	"github.com/batchlet/batchlet/internal/storage"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func newTTLStore(t *testing.T, prefix string, ttl time.Duration) *store {
	s := newTestStore(t)
	WithTTL(prefix, ttl)(s)
	return s
}

// leaseOf returns the lease key is attached to and the seconds it has left.
func leaseOf(t *testing.T, key string) (clientv3.LeaseID, int64) {
	t.Helper()
	resp, err := testClient.Get(testCtx(t), key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("get %s: %v (%d keys)", key, err, len(resp.Kvs))
	}
	id := clientv3.LeaseID(resp.Kvs[0].Lease)
	if id == 0 {
		return 0, 0
	}
	ttl, err := testClient.TimeToLive(testCtx(t), id)
	if err != nil {
		t.Fatalf("lease of %s: %v", key, err)
	}
	return id, ttl.TTL
}

func TestTTLPrefixObjectsExpire(t *testing.T) {
	prefix := testPrefix(t)
	s := newTTLStore(t, prefix+"events/", 2*time.Second)
	mustCreate(t, s, prefix+"events/default/e1", configMap("e1", nil))
	mustCreate(t, s, prefix+"other/default/c1", configMap("c1", nil))
	if id, left := leaseOf(t, prefix+"events/default/e1"); id == 0 || left < 2 || left > 3 {
		t.Fatalf("event lease %x with %d s left, want one with 2–3 s", id, left)
	}
	if id, _ := leaseOf(t, prefix+"other/default/c1"); id != 0 {
		t.Fatalf("a key outside the prefix got lease %x", id)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := s.Get(testCtx(t), prefix+"events/default/e1")
		if storage.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the event outlived its TTL: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := s.Get(testCtx(t), prefix+"other/default/c1"); err != nil {
		t.Fatalf("the key without TTL: %v", err)
	}
}

func TestTTLRenewedByUpdate(t *testing.T) {
	prefix := testPrefix(t)
	s := newTTLStore(t, prefix, time.Hour)
	key := prefix + "default/e1"
	mustCreate(t, s, key, configMap("e1", nil))
	first, _ := leaseOf(t, key)
	// Expire the shared lease's reuse window, so the update needs a new one.
	s.ttls[0].expires = time.Now()
	_, err := s.GuaranteedUpdate(testCtx(t), key, nil, func(cur runtime.Object) (runtime.Object, error) {
		cm := cur.(*corev1.ConfigMap)
		cm.Data = map[string]string{"count": "2"}
		return cm, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	second, left := leaseOf(t, key)
	if second == 0 || second == first || left < 3600 {
		t.Fatalf("after the update: lease %x (before %x) with %d s left, want a fresh one of at least an hour", second, first, left)
	}
}

func TestTTLLeaseGoneIsReplaced(t *testing.T) {
	prefix := testPrefix(t)
	s := newTTLStore(t, prefix, time.Hour)
	mustCreate(t, s, prefix+"default/e1", configMap("e1", nil))
	first, _ := leaseOf(t, prefix+"default/e1")
	if _, err := testClient.Revoke(testCtx(t), first); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, prefix+"default/e2", configMap("e2", nil))
	if second, left := leaseOf(t, prefix+"default/e2"); second == 0 || second == first || left < 3600 {
		t.Fatalf("lease %x with %d s left after %x was revoked", second, left, first)
	}
}
