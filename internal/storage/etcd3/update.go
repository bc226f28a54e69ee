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
	resp, err := s.client.Get(ctx, key)
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
	cur, err := s.readCurrent(ctx, key)
	if err != nil {
		return nil, err
	}
	for {
		if err := checkPreconditions(key, preconditions, cur.obj); err != nil {
			return nil, err
		}
		updated, err := tryUpdate(cur.obj.DeepCopyObject())
		if err != nil {
			return nil, err
		}
		data, out, err := s.codec.encode(updated)
		if err != nil {
			return nil, fmt.Errorf("updating %s: %w", key, err)
		}
		if bytes.Equal(data, cur.data) {
			return cur.obj, nil
		}
		resp, err := s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", cur.rev)).
			Then(clientv3.OpPut(key, string(data))).
			Else(clientv3.OpGet(key)).
			Commit()
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
	}
}

func (s *store) Delete(ctx context.Context, key string, preconditions *storage.Preconditions, validate func(current runtime.Object) error) (runtime.Object, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	cur, err := s.readCurrent(ctx, key)
	if err != nil {
		return nil, err
	}
	for {
		if err := checkPreconditions(key, preconditions, cur.obj); err != nil {
			return nil, err
		}
		if validate != nil {
			if err := validate(cur.obj.DeepCopyObject()); err != nil {
				return nil, err
			}
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
	}
}

// elseKVs is what the Else read of a failed compare-and-swap saw.
func elseKVs(resp *clientv3.TxnResponse) []*mvccpb.KeyValue {
	if len(resp.Responses) == 0 {
		return nil
	}
	return resp.Responses[0].GetResponseRange().GetKvs()
}
