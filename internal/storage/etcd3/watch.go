package etcd3

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/batchlet/batchlet/internal/storage"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

const watchTooOldMessage = "The resourceVersion for the provided watch is too old."

// watcher relays one etcd watch to a consumer through a bounded queue, so
// a slow consumer never holds up etcd's stream.
type watcher struct {
	store  *store
	prefix string
	// deferPrev leaves previous values for the consumer to complete.
	deferPrev bool
	cancel    context.CancelFunc
	result    chan storage.Event
	done      chan struct{}
	once      sync.Once
}

func (s *store) Watch(ctx context.Context, prefix string, opts storage.WatchOptions) (storage.Watcher, error) {
	return s.watch(ctx, prefix, opts, false)
}

// WatchDeferPrev is Watch with the previous values of Modified and Deleted
// events left undecoded (see storage.Event.LoadPrev): a consumer that
// already holds most of them, such as the apiserver's watch cache, saves
// decoding each of them a second time. The consumer must call
// CompletePrev on every event before passing it on.
func (s *store) WatchDeferPrev(ctx context.Context, prefix string, opts storage.WatchOptions) (storage.Watcher, error) {
	return s.watch(ctx, prefix, opts, true)
}

func (s *store) watch(ctx context.Context, prefix string, opts storage.WatchOptions, deferPrev bool) (storage.Watcher, error) {
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if err := checkKey(prefix); err != nil {
		return nil, err
	}
	if opts.Revision < 0 {
		return nil, fmt.Errorf("invalid watch revision %d", opts.Revision)
	}
	start := opts.Revision
	if start == 0 {
		cur, err := s.CurrentRevision(ctx)
		if err != nil {
			return nil, fmt.Errorf("watching %s: %w", prefix, err)
		}
		start = cur
	}
	wctx, cancel := context.WithCancel(ctx)
	w := &watcher{
		store:     s,
		prefix:    prefix,
		deferPrev: deferPrev,
		cancel:    cancel,
		result:    make(chan storage.Event),
		done:      make(chan struct{}),
	}
	// The etcd watch may end before the consumer's: after an error the
	// queued events are still delivered.
	etcdCtx, stopEtcd := context.WithCancel(wctx)
	// Without a leader a watch would silently see nothing; require one so
	// the consumer gets an error and retries instead.
	in := s.client.Watch(clientv3.WithRequireLeader(etcdCtx), prefix,
		clientv3.WithPrefix(), clientv3.WithPrevKV(), clientv3.WithRev(start+1))
	go w.run(wctx, in, stopEtcd)
	return w, nil
}

func (w *watcher) ResultChan() <-chan storage.Event { return w.result }

// Stop ends the watch and waits until its goroutine has exited.
func (w *watcher) Stop() {
	w.once.Do(w.cancel)
	<-w.done
}

// run moves events from etcd to the consumer until etcd's stream ends, the
// consumer stops the watch, or the queue overflows. Events already queued
// are still delivered before a terminal error event.
func (w *watcher) run(ctx context.Context, in clientv3.WatchChan, stopEtcd context.CancelFunc) {
	defer close(w.done)
	defer close(w.result)
	defer w.once.Do(w.cancel)
	defer stopEtcd()
	var queue []storage.Event
	ended := false
	for {
		if ended && len(queue) == 0 {
			return
		}
		var out chan<- storage.Event
		var next storage.Event
		if len(queue) > 0 {
			out, next = w.result, queue[0]
		}
		var recv clientv3.WatchChan
		if !ended {
			recv = in
		}
		select {
		case <-ctx.Done():
			return
		case out <- next:
			queue[0] = storage.Event{}
			queue = queue[1:]
		case resp, ok := <-recv:
			if !ok {
				// etcd closed the stream: the context ended or the
				// client is closing.
				if ctx.Err() == nil {
					queue = append(queue, w.errorEvent(errors.New("etcd closed the watch stream")))
				}
				ended = true
				continue
			}
			events, err := w.convert(resp)
			queue = append(queue, events...)
			if err == nil && len(queue) > w.store.watchQueueLimit {
				err = fmt.Errorf("watch of %s fell more than %d events behind", w.prefix, w.store.watchQueueLimit)
			}
			if err != nil {
				queue = append(queue, w.errorEvent(err))
				ended = true
				stopEtcd()
			}
		}
	}
}

func (w *watcher) errorEvent(err error) storage.Event {
	return storage.Event{Type: watch.Error, Err: err}
}

// convert turns one etcd watch response into events; an error ends the
// watch after the events before it.
func (w *watcher) convert(resp clientv3.WatchResponse) ([]storage.Event, error) {
	if resp.CompactRevision != 0 || errors.Is(resp.Err(), rpctypes.ErrCompacted) {
		return nil, storage.NewError(storage.ErrCodeExpired, w.prefix, "%s", watchTooOldMessage)
	}
	if err := resp.Err(); err != nil {
		return nil, fmt.Errorf("watching %s: %w", w.prefix, err)
	}
	events := make([]storage.Event, 0, len(resp.Events))
	for _, ev := range resp.Events {
		e, err := w.convertEvent(ev)
		if err != nil {
			return events, err
		}
		events = append(events, e)
	}
	return events, nil
}

// convertEvent decodes the new value of a Put; the previous value, when
// etcd gives one, is decoded once (a Deleted event's Object is a copy of
// it) or, for a deferring watch, left to the consumer.
func (w *watcher) convertEvent(ev *clientv3.Event) (storage.Event, error) {
	kv := ev.Kv
	out := storage.Event{Revision: kv.ModRevision, Key: string(kv.Key)}
	switch {
	case ev.Type == clientv3.EventTypeDelete:
		if ev.PrevKv == nil {
			return out, fmt.Errorf("watching %s: delete of %s without its previous value", w.prefix, kv.Key)
		}
		out.Type = watch.Deleted
	case ev.IsCreate():
		out.Type = watch.Added
	default:
		out.Type = watch.Modified
	}
	if out.Type != watch.Deleted {
		obj, err := w.store.codec.decode(kv.Value, kv.ModRevision)
		if err != nil {
			return out, fmt.Errorf("watching %s: key %s: %w", w.prefix, kv.Key, err)
		}
		out.Object, out.Value = obj, kv.Value
	}
	if out.Type == watch.Added || ev.PrevKv == nil {
		return out, nil
	}
	out.PrevRevision = ev.PrevKv.ModRevision
	out.LoadPrev = w.prevLoader(ev.PrevKv)
	if !w.deferPrev {
		if err := out.CompletePrev(nil); err != nil {
			return out, err
		}
	}
	return out, nil
}

// prevLoader decodes prev when called.
func (w *watcher) prevLoader(prev *mvccpb.KeyValue) func() (runtime.Object, error) {
	codec, prefix := w.store.codec, w.prefix
	return func() (runtime.Object, error) {
		obj, err := codec.decode(prev.Value, prev.ModRevision)
		if err != nil {
			return nil, fmt.Errorf("watching %s: key %s: %w", prefix, prev.Key, err)
		}
		return obj, nil
	}
}
