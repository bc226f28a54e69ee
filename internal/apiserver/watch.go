package apiserver

import (
	"context"
	"errors"
	"log"
	"math/rand"
	"net/http"
	"reflect"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/batchlet/batchlet/internal/storage"
)

// initialEventsEnd is the bookmark annotation closing initial events.
const initialEventsEnd = metav1.InitialEventsAnnotationKey

// handleWatch serves a watch on a collection (or, with the legacy /watch/
// prefix, on one object).
func (s *server) handleWatch(w http.ResponseWriter, r *http.Request, rq *request) {
	p, err := parseListParams(r.URL.Query(), rq.res)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	scope := *rq
	if scope.name != "" {
		p.fields = fields.AndSelectors(p.fields, fields.OneTermEqualSelector("metadata.name", scope.name))
		scope.name = ""
	}
	if p.sendInitialEvents != nil && *p.sendInitialEvents && p.resourceVersionMatch != "NotOlderThan" {
		s.writeError(w, r, apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("ListOptions").GroupKind(), "", field.ErrorList{
			field.Forbidden(field.NewPath("resourceVersionMatch"), "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")}))
		return
	}
	out, err := s.negotiateOutput(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if out.info.StreamSerializer == nil {
		s.writeError(w, r, notAcceptable())
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// The timeout runs on the injected clock, so tests can step it.
	timeout := s.cfg.Clock.NewTimer(s.watchTimeout(p))
	defer timeout.Stop()
	ws := &watchStream{s: s, rq: &scope, out: out, m: newMatcher(rq.res, p), w: w}
	cache := s.watchCacheOf(rq.res)
	if cache != nil {
		if err := cache.ensureRunning(ctx); err != nil {
			// Served straight from storage below.
			log.Printf("apiserver: %v", err)
		}
	}
	initial, start, err := s.watchStart(ctx, &scope, p, ws.m)
	if err != nil && !storage.IsExpired(err) {
		s.writeError(w, r, err)
		return
	}
	var watcher storage.Watcher
	if err == nil {
		watcher, err = s.openWatch(ctx, cache, &scope, start)
		if err != nil && !storage.IsExpired(err) {
			s.writeError(w, r, storageError(err, rq.res.gr, ""))
			return
		}
		if _, fromCache := watcher.(*cacheWatcher); fromCache {
			ws.shared = cache
		}
	}
	ws.begin()
	if err != nil {
		ws.sendError(storageError(err, rq.res.gr, ""))
		return
	}
	defer watcher.Stop()
	ws.run(ctx, watcher, initial, start, p, timeout.C())
}

// watchCacheOf returns the resource's watch cache (nil: none).
func (s *server) watchCacheOf(res *resource) *watchCache {
	return s.watchCaches[resourceKey{res.GroupVersion.Group, res.GroupVersion.Version, res.Plural}]
}

// openWatch streams changes after revision start from the resource's
// watch cache, or from storage when the cache no longer holds them
// (storage then answers 410 Expired for a compacted revision).
func (s *server) openWatch(ctx context.Context, cache *watchCache, rq *request, start int64) (storage.Watcher, error) {
	if cache != nil {
		if w, ok := cache.watch(rq.namespace, start); ok {
			return w, nil
		}
	}
	return s.store.Watch(ctx, rq.prefix(), storage.WatchOptions{Revision: start})
}

// watchTimeout is timeoutSeconds, or upstream's randomised default.
func (s *server) watchTimeout(p *listParams) time.Duration {
	if p.timeoutSeconds != nil && *p.timeoutSeconds > 0 {
		return time.Duration(*p.timeoutSeconds) * time.Second
	}
	min := s.watch.minTimeout
	return min + time.Duration(rand.Int63n(int64(min)))
}

// watchStart returns the objects to send as initial ADDED events and the
// revision after which changes are streamed.
func (s *server) watchStart(ctx context.Context, rq *request, p *listParams, m *matcher) ([]runtime.Object, int64, error) {
	rv := p.resourceVersion
	initial := rv == "" || rv == "0"
	if p.sendInitialEvents != nil {
		initial = *p.sendInitialEvents
	}
	if !initial {
		if rv == "" || rv == "0" {
			cur, err := s.store.CurrentRevision(ctx)
			return nil, cur, storageError(err, rq.res.gr, "")
		}
		n, err := strconv.ParseInt(rv, 10, 64)
		if err != nil {
			return nil, 0, badRequestf("invalid resource version %q", rv)
		}
		return nil, n, nil
	}
	opts := storage.ListOptions{ResourceVersion: rv, ResourceVersionMatch: p.resourceVersionMatch}
	if !m.everything() {
		opts.Predicate = m.matches
	}
	result, err := s.store.List(ctx, rq.prefix(), opts)
	if err != nil {
		return nil, 0, storageError(err, rq.res.gr, "")
	}
	return result.Items, result.ResourceVersion, nil
}

// watchStream writes one watch response.
type watchStream struct {
	s       *server
	rq      *request
	out     output
	m       *matcher
	w       http.ResponseWriter
	enc     streaming.Encoder
	columns bool // the next Table still needs column definitions
	// shared, when events come from it, is the watch cache whose events'
	// encodings this stream shares with the other watchers.
	shared *watchCache
}

func (ws *watchStream) begin() {
	ct := ws.out.mediaType
	if ct == mediaProtobuf {
		ct += ";stream=watch"
	}
	ws.w.Header().Set("Content-Type", ct)
	ws.w.WriteHeader(http.StatusOK)
	info := ws.out.info.StreamSerializer
	ws.enc = streaming.NewEncoder(info.Framer.NewFrameWriter(ws.w), info.Serializer)
	ws.columns = true
	ws.flush()
}

func (ws *watchStream) flush() {
	if f, ok := ws.w.(http.Flusher); ok {
		f.Flush()
	}
}

// sendShared writes one event of the watch cache, whose encoding other
// watchers asking for the same output reuse.
func (ws *watchStream) sendShared(t watch.EventType, obj runtime.Object) error {
	key, ok := keyOf(ws.out)
	if !ok || ws.shared == nil {
		return ws.send(t, obj)
	}
	enc := ws.shared.encodingsOf(obj)
	if enc == nil {
		return ws.send(t, obj)
	}
	raw, err := enc.get(key, func() ([]byte, error) {
		shaped, err := ws.s.shape(ws.rq, ws.out, obj, false)
		if err != nil {
			return nil, err
		}
		return ws.s.encode(ws.out.info, shaped)
	})
	if err != nil {
		return err
	}
	return ws.writeEvent(t, raw)
}

// send writes one event; obj is shaped to the negotiated output.
func (ws *watchStream) send(t watch.EventType, obj runtime.Object) error {
	shaped, err := ws.s.shape(ws.rq, ws.out, obj, ws.columns)
	if err != nil {
		return err
	}
	if _, ok := shaped.(*metav1.Table); ok {
		ws.columns = false
	}
	return ws.sendRaw(t, shaped)
}

func (ws *watchStream) sendRaw(t watch.EventType, obj runtime.Object) error {
	raw, err := ws.s.encode(ws.out.info, obj)
	if err != nil {
		return err
	}
	return ws.writeEvent(t, raw)
}

// writeEvent frames one event around the encoded object raw.
func (ws *watchStream) writeEvent(t watch.EventType, raw []byte) error {
	ev := &metav1.WatchEvent{Type: string(t), Object: runtime.RawExtension{Raw: raw}}
	if err := ws.enc.Encode(ev); err != nil {
		return err
	}
	ws.flush()
	return nil
}

// sendError ends the stream with an ERROR event carrying a Status.
func (ws *watchStream) sendError(err error) {
	st := toStatus(err)
	st.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}
	_ = ws.sendRaw(watch.Error, st)
}

// bookmark sends a BOOKMARK at revision rev.
func (ws *watchStream) bookmark(rev int64, endOfInitial bool) error {
	obj := ws.rq.res.New()
	acc, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	acc.SetResourceVersion(strconv.FormatInt(rev, 10))
	if endOfInitial {
		acc.SetAnnotations(map[string]string{initialEventsEnd: "true"})
	}
	switch ws.out.kind {
	case outputTable:
		t := &metav1.Table{}
		t.SetGroupVersionKind(metaGV(ws.out.metaVersion).WithKind("Table"))
		t.ResourceVersion = acc.GetResourceVersion()
		return ws.sendRaw(watch.Bookmark, t)
	case outputMetadata:
		pm, err := partialMetadata(ws.out.metaVersion, obj)
		if err != nil {
			return err
		}
		return ws.sendRaw(watch.Bookmark, pm)
	}
	return ws.sendRaw(watch.Bookmark, obj)
}

// run streams initial events, then changes, until ctx ends, the watch
// expires or fails.
func (ws *watchStream) run(ctx context.Context, watcher storage.Watcher, initial []runtime.Object, start int64, p *listParams, expired <-chan time.Time) {
	// The ticker starts before any event is written, so a client that
	// has seen the first events knows bookmarks are scheduled.
	var tick <-chan time.Time
	if p.allowBookmarks {
		t := ws.s.cfg.Clock.NewTicker(ws.s.watch.bookmarkInterval)
		defer t.Stop()
		tick = t.C()
	}
	for _, obj := range initial {
		if err := ws.send(watch.Added, obj); err != nil {
			return
		}
	}
	last := start
	if p.sendInitialEvents != nil && *p.sendInitialEvents {
		if err := ws.bookmark(last, true); err != nil {
			return
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-expired:
			return
		case <-tick:
			if last == 0 {
				continue
			}
			if err := ws.bookmark(last, false); err != nil {
				return
			}
		case ev, ok := <-watcher.ResultChan():
			if !ok {
				return
			}
			if ev.Type == watch.Error {
				err := ev.Err
				if err == nil {
					err = errors.New("watch failed")
				}
				ws.sendError(storageError(err, ws.rq.res.gr, ""))
				return
			}
			if ev.Revision > last {
				last = ev.Revision
			}
			t, obj := ws.translate(ev)
			if obj == nil {
				continue
			}
			if err := ws.sendShared(t, obj); err != nil {
				return
			}
		}
	}
}

// translate applies the selectors to a change: an object entering the
// selection is ADDED, one leaving it is DELETED.
func (ws *watchStream) translate(ev storage.Event) (watch.EventType, runtime.Object) {
	switch ev.Type {
	case watch.Added:
		if ws.m.matches(ev.Object) {
			return watch.Added, ev.Object
		}
	case watch.Deleted:
		if ws.m.matches(ev.Object) {
			return watch.Deleted, ev.Object
		}
	case watch.Modified:
		cur := ws.m.matches(ev.Object)
		prev := ev.PrevObject != nil && ws.m.matches(ev.PrevObject)
		switch {
		case cur && prev:
			return watch.Modified, ev.Object
		case cur:
			return watch.Added, ev.Object
		case prev:
			gone := withResourceVersion(ev.PrevObject, strconv.FormatInt(ev.Revision, 10))
			return watch.Deleted, gone
		}
	}
	return "", nil
}

// withResourceVersion returns obj as it was, at resource version rv. The
// copy is shallow, as what it shares with obj is never written: obj is the
// watch cache's, and every client of the event copies what it receives.
func withResourceVersion(obj runtime.Object, rv string) runtime.Object {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		obj = obj.DeepCopyObject()
	} else {
		cp := reflect.New(v.Elem().Type())
		cp.Elem().Set(v.Elem())
		if o, ok := cp.Interface().(runtime.Object); ok {
			obj = o
		} else {
			obj = obj.DeepCopyObject()
		}
	}
	if acc, err := meta.Accessor(obj); err == nil {
		acc.SetResourceVersion(rv)
	}
	return obj
}
