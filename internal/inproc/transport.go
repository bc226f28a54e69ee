// Package inproc is an http.RoundTripper that serves each request by
// calling an http.Handler in the same process: clients that live beside
// their server keep the whole HTTP contract (URLs, headers, content
// negotiation, status codes, streaming) without TCP, TLS or HTTP/2 framing.
package inproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/klog/v2"
)

// RemoteAddr is the http.Request.RemoteAddr handlers see for in-process
// requests; it is not a host:port, so nothing mistakes it for a peer.
const RemoteAddr = "inproc"

// ErrUpgrade is returned for requests that ask to switch protocols (exec,
// attach, port-forward): they need a connection to take over.
var ErrUpgrade = errors.New("inproc: protocol upgrades (exec, attach, port-forward) need a network connection; the in-process transport has none")

// ErrHijack is what a handler's Hijack returns.
var ErrHijack = errors.New("inproc: the in-process transport has no connection to hijack")

// defaultIdleTimeout is how long a worker waits for another request
// before it exits.
const defaultIdleTimeout = 15 * time.Second

// Transport serves requests with a handler in this process. Each request
// runs the handler on a goroutine of its own for as long as it lasts, so
// concurrent requests proceed concurrently, as streams of an HTTP/2
// connection do. Those goroutines (workers) are reused: a worker that
// finished a request takes the next one if it arrives within the idle
// timeout, and exits otherwise. A reused worker keeps the stack the
// handler grew, which a fresh goroutine would grow again by copying it
// several times per request. A request that finds no idle worker starts
// a new one, so long requests (watches) never hold up others.
type Transport struct {
	handler http.Handler
	mark    func(context.Context) context.Context
	served  atomic.Uint64

	// handoff is unbuffered: a send succeeds only while a worker waits.
	handoff     chan task
	idleTimeout time.Duration
	workers     atomic.Int64  // running
	idle        atomic.Int64  // waiting for a request
	started     atomic.Uint64 // ever started
}

// task is one request for a worker.
type task struct {
	w      *responseWriter
	r      *http.Request
	cancel context.CancelFunc
}

// New returns a transport serving with handler. mark, when not nil,
// derives each handler request's context: it lets the handler's
// authenticator recognise requests that only this transport can make.
func New(handler http.Handler, mark func(context.Context) context.Context) *Transport {
	return &Transport{handler: handler, mark: mark, handoff: make(chan task), idleTimeout: defaultIdleTimeout}
}

// Requests is how many requests the transport has handed to its handler.
func (t *Transport) Requests() uint64 {
	if t == nil {
		return 0
	}
	return t.served.Load()
}

// RoundTrip runs the handler and returns its response as soon as the
// handler flushes or returns, as a server's client sees it; the body of a
// response that is still being written streams the handler's later
// writes. Closing that body or cancelling the request's context cancels
// the handler's request context.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		closeRequestBody(req)
		return nil, errors.New("inproc: request has no URL")
	}
	if isUpgrade(req.Header) {
		closeRequestBody(req)
		return nil, ErrUpgrade
	}
	clientCtx := req.Context()
	ctx, cancel := context.WithCancel(clientCtx)
	handlerCtx := context.WithValue(ctx, servedKey{}, true)
	if t.mark != nil {
		handlerCtx = t.mark(handlerCtx)
	}
	sreq := serverRequest(handlerCtx, req)
	w := newResponseWriter(req, sreq.Method == http.MethodHead)
	t.served.Add(1)
	t.dispatch(task{w: w, r: sreq, cancel: cancel})

	select {
	case <-w.committed:
	case <-clientCtx.Done():
		// The handler may still commit; whatever it writes now is dropped.
		w.pipe.closeRead(clientCtx.Err())
		cancel()
		return nil, fmt.Errorf("inproc: %s %s: %w", req.Method, req.URL.Path, clientCtx.Err())
	}
	if w.failed != nil {
		cancel()
		return nil, w.failed
	}
	b := &responseBody{pipe: w.pipe, resp: w.resp, cancel: cancel}
	b.stop = context.AfterFunc(clientCtx, func() {
		w.pipe.closeRead(clientCtx.Err())
		cancel()
	})
	w.resp.Body = b
	return w.resp, nil
}

// dispatch hands tk to an idle worker, or to a new one when none waits.
func (t *Transport) dispatch(tk task) {
	select {
	case t.handoff <- tk:
	default:
		t.workers.Add(1)
		t.started.Add(1)
		go t.work(tk)
	}
}

// work serves tk, then whatever requests reach it before it has been idle
// for the idle timeout. The counts stay right however it ends, even when
// a handler calls runtime.Goexit.
func (t *Transport) work(tk task) {
	defer t.workers.Add(-1)
	var timer *time.Timer
	for {
		t.serve(tk.w, tk.r, tk.cancel)
		// Nothing of the finished request stays reachable while idle.
		tk = task{}
		if timer == nil {
			timer = time.NewTimer(t.idleTimeout)
			defer timer.Stop()
		} else {
			timer.Reset(t.idleTimeout)
		}
		t.idle.Add(1)
		select {
		case tk = <-t.handoff:
			t.idle.Add(-1)
		case <-timer.C:
			t.idle.Add(-1)
			return
		}
	}
}

// serve runs the handler and finishes the response however it ends: a
// handler's panic (http.ErrAbortHandler included) fails this one request,
// as a server drops the connection, never the process.
func (t *Transport) serve(w *responseWriter, r *http.Request, cancel context.CancelFunc) {
	defer func() {
		v := recover()
		if v != nil && v != http.ErrAbortHandler {
			klog.ErrorS(fmt.Errorf("%v", v), "inproc: handler panicked", "method", r.Method, "path", r.URL.Path, "stack", string(debug.Stack()))
		}
		if r.Body != nil {
			r.Body.Close()
		}
		w.finish(v, r.Context().Err())
		cancel()
	}()
	t.handler.ServeHTTP(w, r)
}

// serverRequest is req as a server hands it to a handler: the path and
// query only in URL, RequestURI set, the Host header in Host, a body that
// is never nil.
func serverRequest(ctx context.Context, req *http.Request) *http.Request {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	u := &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	if u.Path == "" {
		u.Path = "/"
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	header := req.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	var body io.ReadCloser = http.NoBody
	var length int64
	if req.Body != nil && req.Body != http.NoBody {
		body = &onceCloser{ReadCloser: req.Body}
		// A client request's zero length with a body means unknown.
		length = req.ContentLength
		if length == 0 {
			length = -1
		}
	}
	r := &http.Request{
		Method:        method,
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          body,
		ContentLength: length,
		Host:          host,
		RemoteAddr:    RemoteAddr,
		RequestURI:    u.RequestURI(),
	}
	return r.WithContext(ctx)
}

// isUpgrade reports a request asking to switch protocols.
func isUpgrade(h http.Header) bool {
	for _, v := range h.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// closeRequestBody keeps RoundTripper's promise to close the body on
// every path.
func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
