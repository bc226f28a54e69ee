package apiserver

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/batchlet/batchlet/internal/storage"
)

// memStore is an in-memory storage.Interface for tests, with revisions,
// history for watches and compaction.
type memStore struct {
	mu        sync.Mutex
	rev       int64
	objs      map[string]runtime.Object
	history   []keyedEvent
	compacted int64
	watchers  map[*memWatcher]bool
}

type keyedEvent struct {
	key string
	ev  storage.Event
}

func newMemStore() *memStore {
	return &memStore{objs: map[string]runtime.Object{}, watchers: map[*memWatcher]bool{}, rev: 1}
}

func setRV(obj runtime.Object, rev int64) {
	acc, _ := meta.Accessor(obj)
	acc.SetResourceVersion(strconv.FormatInt(rev, 10))
}

func rvOf(obj runtime.Object) string {
	acc, _ := meta.Accessor(obj)
	return acc.GetResourceVersion()
}

// commit records a change; the caller holds mu.
func (m *memStore) commit(key string, t watch.EventType, obj, prev runtime.Object) {
	ev := storage.Event{Type: t, Object: obj.DeepCopyObject(), Revision: m.rev}
	if prev != nil {
		ev.PrevObject = prev.DeepCopyObject()
	}
	m.history = append(m.history, keyedEvent{key, ev})
	for w := range m.watchers {
		if strings.HasPrefix(key, w.prefix) {
			w.ch <- copyEvent(ev)
		}
	}
}

func copyEvent(ev storage.Event) storage.Event {
	ev.Object = ev.Object.DeepCopyObject()
	if ev.PrevObject != nil {
		ev.PrevObject = ev.PrevObject.DeepCopyObject()
	}
	return ev
}

func (m *memStore) Create(ctx context.Context, key string, obj runtime.Object) (runtime.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[key]; ok {
		return nil, storage.NewError(storage.ErrCodeKeyExists, key, "exists")
	}
	m.rev++
	o := obj.DeepCopyObject()
	setRV(o, m.rev)
	m.objs[key] = o
	m.commit(key, watch.Added, o, nil)
	return o.DeepCopyObject(), nil
}

func (m *memStore) Get(ctx context.Context, key string) (runtime.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objs[key]
	if !ok {
		return nil, storage.NewError(storage.ErrCodeKeyNotFound, key, "not found")
	}
	return o.DeepCopyObject(), nil
}

func checkPre(key string, cur runtime.Object, p *storage.Preconditions) error {
	if p == nil {
		return nil
	}
	acc, _ := meta.Accessor(cur)
	if p.UID != nil && *p.UID != acc.GetUID() {
		return storage.NewError(storage.ErrCodeConflict, key, "uid precondition failed")
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != acc.GetResourceVersion() {
		return storage.NewError(storage.ErrCodeConflict, key, "resourceVersion precondition failed")
	}
	return nil
}

func (m *memStore) GuaranteedUpdate(ctx context.Context, key string, p *storage.Preconditions, try storage.UpdateFunc) (runtime.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.objs[key]
	if !ok {
		return nil, storage.NewError(storage.ErrCodeKeyNotFound, key, "not found")
	}
	if err := checkPre(key, cur, p); err != nil {
		return nil, err
	}
	out, err := try(cur.DeepCopyObject())
	if err != nil {
		return nil, err
	}
	out = out.DeepCopyObject()
	setRV(out, mustRev(cur))
	if equality.Semantic.DeepEqual(out, cur) {
		return cur.DeepCopyObject(), nil
	}
	m.rev++
	setRV(out, m.rev)
	m.objs[key] = out
	m.commit(key, watch.Modified, out, cur)
	return out.DeepCopyObject(), nil
}

func mustRev(obj runtime.Object) int64 {
	n, _ := strconv.ParseInt(rvOf(obj), 10, 64)
	return n
}

func (m *memStore) Delete(ctx context.Context, key string, p *storage.Preconditions, validate func(runtime.Object) error) (runtime.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.objs[key]
	if !ok {
		return nil, storage.NewError(storage.ErrCodeKeyNotFound, key, "not found")
	}
	if err := checkPre(key, cur, p); err != nil {
		return nil, err
	}
	if validate != nil {
		if err := validate(cur.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	delete(m.objs, key)
	m.rev++
	gone := cur.DeepCopyObject()
	setRV(gone, m.rev)
	m.commit(key, watch.Deleted, gone, cur)
	return cur.DeepCopyObject(), nil
}

func (m *memStore) List(ctx context.Context, prefix string, opts storage.ListOptions) (*storage.ListResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var keys []string
	for k := range m.objs {
		if strings.HasPrefix(k, prefix) && k > opts.Continue {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	res := &storage.ListResult{ResourceVersion: m.rev}
	for i, k := range keys {
		o := m.objs[k]
		if opts.Predicate != nil && !opts.Predicate(o) {
			continue
		}
		if opts.Limit > 0 && int64(len(res.Items)) == opts.Limit {
			res.Continue = keys[i-1]
			break
		}
		res.Items = append(res.Items, o.DeepCopyObject())
	}
	return res, nil
}

func (m *memStore) CurrentRevision(ctx context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rev, nil
}

// compact forgets history up to the current revision.
func (m *memStore) compact() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.compacted = m.rev
	m.history = nil
}

type memWatcher struct {
	m      *memStore
	prefix string
	ch     chan storage.Event
	once   sync.Once
}

func (w *memWatcher) ResultChan() <-chan storage.Event { return w.ch }

func (w *memWatcher) Stop() {
	w.once.Do(func() {
		w.m.mu.Lock()
		delete(w.m.watchers, w)
		w.m.mu.Unlock()
	})
}

func (m *memStore) Watch(ctx context.Context, prefix string, opts storage.WatchOptions) (storage.Watcher, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := &memWatcher{m: m, prefix: prefix, ch: make(chan storage.Event, 1000)}
	if opts.Revision != 0 && opts.Revision < m.compacted {
		w.ch <- storage.Event{Type: watch.Error, Err: storage.NewError(storage.ErrCodeExpired, prefix, "required revision has been compacted")}
		close(w.ch)
		return w, nil
	}
	for _, ke := range m.history {
		if opts.Revision != 0 && ke.ev.Revision > opts.Revision && strings.HasPrefix(ke.key, prefix) {
			w.ch <- copyEvent(ke.ev)
		}
	}
	m.watchers[w] = true
	go func() {
		<-ctx.Done()
		w.Stop()
	}()
	return w, nil
}

var _ storage.Interface = (*memStore)(nil)
