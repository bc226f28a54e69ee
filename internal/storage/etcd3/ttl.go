package etcd3

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Option adjusts a store made by New.
type Option func(*store)

// WithTTL makes every object written under prefix expire ttl after its
// last create or update, as the apiserver's --event-ttl does for events.
// A non-positive ttl keeps objects for good.
func WithTTL(prefix string, ttl time.Duration) Option {
	return func(s *store) {
		if ttl > 0 {
			s.ttls = append(s.ttls, &ttlPrefix{prefix: prefix, ttl: ttl})
		}
	}
}

// ttlPrefix hands out the etcd lease the keys under prefix are written
// with. Granting one per write would double the writes; instead a lease
// is shared by every write of a window, and each key lives between ttl
// and ttl plus the window.
type ttlPrefix struct {
	prefix string
	ttl    time.Duration

	mu      sync.Mutex
	lease   clientv3.LeaseID
	expires time.Time
}

// maxLeaseWindow caps how much longer than its TTL a key may live.
const maxLeaseWindow = time.Minute

// withLease runs txn with the put options key needs: a lease when key is
// under a TTL prefix. A lease that is gone before its time (revoked by
// hand, or lost with a restored etcd) is replaced once.
func (s *store) withLease(ctx context.Context, key string, txn func([]clientv3.OpOption) (*clientv3.TxnResponse, error)) (*clientv3.TxnResponse, error) {
	var t *ttlPrefix
	for _, p := range s.ttls {
		if strings.HasPrefix(key, p.prefix) {
			t = p
			break
		}
	}
	if t == nil {
		return txn(nil)
	}
	for retried := false; ; retried = true {
		id, err := t.leaseFor(ctx, s.client)
		if err != nil {
			return nil, fmt.Errorf("lease for %s: %w", key, err)
		}
		resp, err := txn([]clientv3.OpOption{clientv3.WithLease(id)})
		if retried || !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return resp, err
		}
		t.forget(id)
	}
}

func (t *ttlPrefix) leaseFor(ctx context.Context, client *clientv3.Client) (clientv3.LeaseID, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if t.lease != 0 && t.expires.Sub(now) >= t.ttl {
		return t.lease, nil
	}
	window := min(t.ttl/20, maxLeaseWindow)
	life := t.ttl + window
	// etcd counts TTLs in whole seconds.
	secs := int64((life + time.Second - 1) / time.Second)
	resp, err := client.Grant(ctx, secs)
	if err != nil {
		return 0, err
	}
	t.lease, t.expires = resp.ID, now.Add(time.Duration(secs)*time.Second)
	return t.lease, nil
}

// forget drops lease id, found gone, so that the next write gets another.
func (t *ttlPrefix) forget(id clientv3.LeaseID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lease == id {
		t.lease = 0
	}
}
