// Package etcd3 implements storage.Interface over an etcd v3 cluster.
// Objects are stored as Kubernetes protobuf; an object's resourceVersion is
// the mod revision of its key and is never part of the stored bytes.
package etcd3

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/batchlet/batchlet/internal/storage"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
)

// store is the etcd v3 implementation of storage.Interface.
type store struct {
	client *clientv3.Client
	codec  *codec
	// watchQueueLimit bounds the events a watch buffers for a slow
	// consumer before it gives up on it.
	watchQueueLimit int
	// listBatch is how many keys a filtered list reads per round trip.
	listBatch int64
	// ttls are the key prefixes whose objects expire.
	ttls []*ttlPrefix
}

// defaultWatchQueueLimit is generous: informers drain their watch quickly,
// and a consumer this far behind is better served by a relist.
const defaultWatchQueueLimit = 10000

const defaultListBatch = 500

// New returns a store over client for the types in client-go's scheme.
func New(client *clientv3.Client, opts ...Option) storage.Interface {
	s := newStore(client, scheme.Scheme)
	for _, o := range opts {
		o(s)
	}
	return s
}

func newStore(client *clientv3.Client, s *runtime.Scheme) *store {
	return &store{
		client:          client,
		codec:           newCodec(s),
		watchQueueLimit: defaultWatchQueueLimit,
		listBatch:       defaultListBatch,
	}
}

var _ storage.Interface = (*store)(nil)

func (s *store) Create(ctx context.Context, key string, obj runtime.Object) (runtime.Object, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", key, err)
	}
	if accessor.GetResourceVersion() != "" {
		return nil, errors.New("resourceVersion should not be set on objects to be created")
	}
	data, out, err := s.codec.encode(obj)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", key, err)
	}
	resp, err := s.withLease(ctx, key, func(opts []clientv3.OpOption) (*clientv3.TxnResponse, error) {
		return s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, string(data), opts...)).
			Commit()
	})
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", key, err)
	}
	if !resp.Succeeded {
		return nil, storage.NewError(storage.ErrCodeKeyExists, key, "key exists")
	}
	if err := setResourceVersion(out, resp.Header.Revision); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *store) Get(ctx context.Context, key string) (runtime.Object, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	resp, err := s.client.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("getting %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, notFound(key)
	}
	kv := resp.Kvs[0]
	obj, err := s.codec.decode(kv.Value, kv.ModRevision)
	if err != nil {
		return nil, fmt.Errorf("getting %s: %w", key, err)
	}
	return obj, nil
}

// revisionProbeKey is read with CountOnly just to learn the store revision.
const revisionProbeKey = "/registry/.revision"

func (s *store) CurrentRevision(ctx context.Context) (int64, error) {
	resp, err := s.client.Get(ctx, revisionProbeKey, clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("reading current revision: %w", err)
	}
	return resp.Header.Revision, nil
}

func checkKey(key string) error {
	if key == "" || !strings.HasPrefix(key, "/") {
		return fmt.Errorf("invalid storage key %q: must start with /", key)
	}
	return nil
}

func notFound(key string) error {
	return storage.NewError(storage.ErrCodeKeyNotFound, key, "key not found")
}

var _ storage.LocalGetter = (*store)(nil)

// GetLocal is Get without a quorum read.
func (s *store) GetLocal(ctx context.Context, key string) (runtime.Object, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	cur, err := s.readLocal(ctx, key)
	if err != nil {
		return nil, err
	}
	return cur.obj, nil
}
