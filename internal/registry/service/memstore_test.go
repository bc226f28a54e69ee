package service

import (
	"context"
	"errors"
	"sync"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/batchlet/batchlet/internal/storage"
)

// memStore is an in-memory storage.Interface with etcd's compare-and-swap
// semantics for the calls the allocator makes.
type memStore struct {
	mu   sync.Mutex
	rev  int64
	objs map[string]entry
}

type entry struct {
	obj runtime.Object
	rev int64
}

func newMemStore() *memStore { return &memStore{objs: map[string]entry{}} }

var errUnsupported = errors.New("memStore: unsupported")

func (m *memStore) Create(_ context.Context, key string, obj runtime.Object) (runtime.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[key]; ok {
		return nil, storage.NewError(storage.ErrCodeKeyExists, key, "exists")
	}
	m.rev++
	m.objs[key] = entry{obj.DeepCopyObject(), m.rev}
	return obj.DeepCopyObject(), nil
}

func (m *memStore) Get(_ context.Context, key string) (runtime.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.objs[key]
	if !ok {
		return nil, storage.NewError(storage.ErrCodeKeyNotFound, key, "not found")
	}
	return e.obj.DeepCopyObject(), nil
}

func (m *memStore) GuaranteedUpdate(_ context.Context, key string, _ *storage.Preconditions, try storage.UpdateFunc) (runtime.Object, error) {
	for {
		m.mu.Lock()
		e, ok := m.objs[key]
		m.mu.Unlock()
		if !ok {
			return nil, storage.NewError(storage.ErrCodeKeyNotFound, key, "not found")
		}
		out, err := try(e.obj.DeepCopyObject())
		if err != nil {
			return nil, err
		}
		m.mu.Lock()
		if m.objs[key].rev != e.rev {
			m.mu.Unlock()
			continue // lost the race: re-read
		}
		if !apiequality.Semantic.DeepEqual(out, e.obj) {
			m.rev++
			m.objs[key] = entry{out.DeepCopyObject(), m.rev}
		}
		m.mu.Unlock()
		return out, nil
	}
}

func (m *memStore) Delete(context.Context, string, *storage.Preconditions, func(runtime.Object) error) (runtime.Object, error) {
	return nil, errUnsupported
}

func (m *memStore) List(context.Context, string, storage.ListOptions) (*storage.ListResult, error) {
	return nil, errUnsupported
}

func (m *memStore) Watch(context.Context, string, storage.WatchOptions) (storage.Watcher, error) {
	return nil, errUnsupported
}

func (m *memStore) CurrentRevision(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rev, nil
}
