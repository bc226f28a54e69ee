package embedded

import (
	"context"
	"sync"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// gate keeps direct calls out of a closing server. Over gRPC, etcd stops
// its listeners before it closes the database; the in-process client calls
// the server's methods directly, so a request arriving during Close would
// reach a closed database and panic inside it. Close waits for the calls
// in flight and later calls fail with etcd's own "server stopped" error.
type gate struct {
	mu     sync.RWMutex
	closed bool
}

// enter admits a call, which must then call leave; it refuses once closed.
func (g *gate) enter() error {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return rpctypes.ErrStopped
	}
	return nil
}

func (g *gate) leave() { g.mu.RUnlock() }

// close waits for the calls in flight and refuses every later one.
func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// gatedKV passes the key-value calls through the gate.
type gatedKV struct {
	kv   clientv3.KV
	gate *gate
}

func (k gatedKV) Put(ctx context.Context, key, val string, opts ...clientv3.OpOption) (*clientv3.PutResponse, error) {
	if err := k.gate.enter(); err != nil {
		return nil, err
	}
	defer k.gate.leave()
	return k.kv.Put(ctx, key, val, opts...)
}

func (k gatedKV) Get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	if err := k.gate.enter(); err != nil {
		return nil, err
	}
	defer k.gate.leave()
	return k.kv.Get(ctx, key, opts...)
}

func (k gatedKV) Delete(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.DeleteResponse, error) {
	if err := k.gate.enter(); err != nil {
		return nil, err
	}
	defer k.gate.leave()
	return k.kv.Delete(ctx, key, opts...)
}

func (k gatedKV) Compact(ctx context.Context, rev int64, opts ...clientv3.CompactOption) (*clientv3.CompactResponse, error) {
	if err := k.gate.enter(); err != nil {
		return nil, err
	}
	defer k.gate.leave()
	return k.kv.Compact(ctx, rev, opts...)
}

func (k gatedKV) Do(ctx context.Context, op clientv3.Op) (clientv3.OpResponse, error) {
	if err := k.gate.enter(); err != nil {
		return clientv3.OpResponse{}, err
	}
	defer k.gate.leave()
	return k.kv.Do(ctx, op)
}

func (k gatedKV) Txn(ctx context.Context) clientv3.Txn {
	return gatedTxn{txn: k.kv.Txn(ctx), gate: k.gate}
}

// gatedTxn gates a transaction's Commit, the one call that reaches the
// server.
type gatedTxn struct {
	txn  clientv3.Txn
	gate *gate
}

func (t gatedTxn) If(cs ...clientv3.Cmp) clientv3.Txn {
	return gatedTxn{txn: t.txn.If(cs...), gate: t.gate}
}

func (t gatedTxn) Then(ops ...clientv3.Op) clientv3.Txn {
	return gatedTxn{txn: t.txn.Then(ops...), gate: t.gate}
}

func (t gatedTxn) Else(ops ...clientv3.Op) clientv3.Txn {
	return gatedTxn{txn: t.txn.Else(ops...), gate: t.gate}
}

func (t gatedTxn) Commit() (*clientv3.TxnResponse, error) {
	if err := t.gate.enter(); err != nil {
		return nil, err
	}
	defer t.gate.leave()
	return t.txn.Commit()
}

// gatedLease gates the lease calls that reach the server once; keep-alive
// streams end with the server.
type gatedLease struct {
	clientv3.Lease
	gate *gate
}

func (l gatedLease) Grant(ctx context.Context, ttl int64) (*clientv3.LeaseGrantResponse, error) {
	if err := l.gate.enter(); err != nil {
		return nil, err
	}
	defer l.gate.leave()
	return l.Lease.Grant(ctx, ttl)
}

func (l gatedLease) Revoke(ctx context.Context, id clientv3.LeaseID) (*clientv3.LeaseRevokeResponse, error) {
	if err := l.gate.enter(); err != nil {
		return nil, err
	}
	defer l.gate.leave()
	return l.Lease.Revoke(ctx, id)
}

func (l gatedLease) TimeToLive(ctx context.Context, id clientv3.LeaseID, opts ...clientv3.LeaseOption) (*clientv3.LeaseTimeToLiveResponse, error) {
	if err := l.gate.enter(); err != nil {
		return nil, err
	}
	defer l.gate.leave()
	return l.Lease.TimeToLive(ctx, id, opts...)
}

func (l gatedLease) KeepAliveOnce(ctx context.Context, id clientv3.LeaseID) (*clientv3.LeaseKeepAliveResponse, error) {
	if err := l.gate.enter(); err != nil {
		return nil, err
	}
	defer l.gate.leave()
	return l.Lease.KeepAliveOnce(ctx, id)
}
