package etcd3

import (
	"bytes"
	"context"
	"fmt"

	"github.com/batchlet/batchlet/internal/storage"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
)

// current is an object as last read from etcd.
type current struct {
	data []byte
	rev  int64
	obj  runtime.Object
}

func (s *store) readCurrent(ctx context.Context, key string) (*current, error) {
	return s.read(ctx, key)
}

// readLocal reads key from the member's applied state without a quorum
// round. Writes start from it: their compare-and-swap on the mod revision
// catches a stale read, and the failed txn returns the current value.
func (s *store) readLocal(ctx context.Context, key string) (*current, error) {
	return s.read(ctx, key, clientv3.WithSerializable())
}

// readForWrite starts a write from the local read, falling back to a
// quorum read when the key is missing locally. confirmed tells whether
// the value returned is known to be current.
func (s *store) readForWrite(ctx context.Context, key string) (cur *current, confirmed bool, err error) {
	cur, err = s.readLocal(ctx, key)
	if storage.IsNotFound(err) {
		cur, err = s.readCurrent(ctx, key)
		return cur, true, err
	}
	return cur, false, err
}

func (s *store) read(ctx context.Context, key string, opts ...clientv3.OpOption) (*current, error) {
	resp, err := s.client.Get(ctx, key, opts...)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	return s.fromKVs(key, resp.Kvs)
}

// fromKVs decodes the single-key read of a Get or of a failed txn's Else.
func (s *store) fromKVs(key string, kvs []*mvccpb.KeyValue) (*current, error) {
	if len(kvs) == 0 {
		return nil, notFound(key)
	}
	kv := kvs[0]
	obj, err := s.codec.decode(kv.Value, kv.ModRevision)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	return &current{data: kv.Value, rev: kv.ModRevision, obj: obj}, nil
}

func (s *store) GuaranteedUpdate(ctx context.Context, key string, preconditions *storage.Preconditions, tryUpdate storage.UpdateFunc) (runtime.Object, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	cur, confirmed, err := s.readForWrite(ctx, key)
	if err != nil {
		return nil, err
	}
	return s.updateFrom(ctx, key, cur, confirmed, preconditions, tryUpdate)
}

// GuaranteedUpdateFrom is GuaranteedUpdate starting from cached instead of
// a local read: the update is judged on a copy of it as on an unconfirmed
// read, and a stale value fails the compare-and-swap, whose answer is the
// current one.
func (s *store) GuaranteedUpdateFrom(ctx context.Context, key string, cached storage.Cached, preconditions *storage.Preconditions, tryUpdate storage.UpdateFunc) (runtime.Object, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if cached.Object == nil || cached.Value == nil || cached.Revision <= 0 {
		return s.GuaranteedUpdate(ctx, key, preconditions, tryUpdate)
	}
	cur := &current{data: cached.Value, rev: cached.Revision, obj: cached.Object.DeepCopyObject()}
	return s.updateFrom(ctx, key, cur, false, preconditions, tryUpdate)
}

// updateFrom runs GuaranteedUpdate's loop from cur, which confirmed says
// is known to be current.
func (s *store) updateFrom(ctx context.Context, key string, cur *current, confirmed bool, preconditions *storage.Preconditions, tryUpdate storage.UpdateFunc) (runtime.Object, error) {
	for {
		err := checkPreconditions(key, preconditions, cur.obj)
		var updated runtime.Object
		if err == nil {
			// cur.obj is this call's own decode, so tryUpdate may have
			// it without a copy; the paths that answer the stored value
			// decode it again (storedObject).
			updated, err = tryUpdate(cur.obj)
		}
		if err != nil {
			// A refusal is only final when judged on the current value.
			if confirmed {
				return nil, err
			}
			if cur, err = s.readCurrent(ctx, key); err != nil {
				return nil, err
			}
			confirmed = true
			continue
		}
		// What tryUpdate returns is the store's: encoded in place and,
		// once written, handed back.
		data, err := s.codec.encodeOwned(updated)
		if err != nil {
			return nil, fmt.Errorf("updating %s: %w", key, err)
		}
		out := updated
		if bytes.Equal(data, cur.data) {
			if !confirmed {
				fresh, err := s.readCurrent(ctx, key)
				if err != nil {
					return nil, err
				}
				confirmed = true
				// The local read was current after all: the update was
				// judged on what is stored and changes nothing.
				if fresh.rev == cur.rev {
					return fresh.obj, nil
				}
				cur = fresh
				continue
			}
			return s.storedObject(key, cur)
		}
		resp, err := s.withLease(ctx, key, func(opts []clientv3.OpOption) (*clientv3.TxnResponse, error) {
			return s.client.Txn(ctx).
				If(clientv3.Compare(clientv3.ModRevision(key), "=", cur.rev)).
				Then(clientv3.OpPut(key, string(data), opts...)).
				Else(clientv3.OpGet(key)).
				Commit()
		})
		if err != nil {
			return nil, fmt.Errorf("updating %s: %w", key, err)
		}
		if resp.Succeeded {
			if err := setResourceVersion(out, resp.Header.Revision); err != nil {
				return nil, err
			}
			return out, nil
		}
		// Lost the race: start over from what is there now.
		cur, err = s.fromKVs(key, elseKVs(resp))
		if err != nil {
			return nil, err
		}
		confirmed = true
	}
}

// storedObject decodes cur's value again, for an answer: the object
// decoded first was handed to an update function.
func (s *store) storedObject(key string, cur *current) (runtime.Object, error) {
	obj, err := s.codec.decode(cur.data, cur.rev)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	return obj, nil
}

func (s *store) Delete(ctx context.Context, key string, preconditions *storage.Preconditions, validate func(current runtime.Object) error) (runtime.Object, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	cur, confirmed, err := s.readForWrite(ctx, key)
	if err != nil {
		return nil, err
	}
	for {
		err := checkPreconditions(key, preconditions, cur.obj)
		if err == nil && validate != nil {
			err = validate(cur.obj.DeepCopyObject())
		}
		if err != nil {
			if confirmed {
				return nil, err
			}
			if cur, err = s.readCurrent(ctx, key); err != nil {
				return nil, err
			}
			confirmed = true
			continue
		}
		resp, err := s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", cur.rev)).
			Then(clientv3.OpDelete(key)).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			return nil, fmt.Errorf("deleting %s: %w", key, err)
		}
		if resp.Succeeded {
			if err := setResourceVersion(cur.obj, resp.Header.Revision); err != nil {
				return nil, err
			}
			return cur.obj, nil
		}
		cur, err = s.fromKVs(key, elseKVs(resp))
		if err != nil {
			return nil, err
		}
		confirmed = true
	}
}

// elseKVs is what the Else read of a failed compare-and-swap saw.
func elseKVs(resp *clientv3.TxnResponse) []*mvccpb.KeyValue {
	if len(resp.Responses) == 0 {
		return nil
	}
	return resp.Responses[0].GetResponseRange().GetKvs()
}
