package inproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"
)

// eventHandler streams like a watch: header and flush at once, then one
// line per value sent on events, until the request's context ends; it
// reports its end on ended.
type eventHandler struct {
	events chan string
	ended  chan error
}

func newEventHandler() *eventHandler {
	return &eventHandler{events: make(chan string), ended: make(chan error, 100)}
}

func (h *eventHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json;stream=watch")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	for {
		select {
		case <-r.Context().Done():
			h.ended <- r.Context().Err()
			return
		case ev := <-h.events:
			if _, err := io.WriteString(w, ev+"\n"); err != nil {
				h.ended <- err
				return
			}
			w.(http.Flusher).Flush()
		}
	}
}

func TestStreamingFlush(t *testing.T) {
	h := newEventHandler()
	tr := New(h, nil)
	req, _ := http.NewRequest(http.MethodGet, "http://inproc/api/v1/pods?watch=true", nil)
	// The response arrives while the handler is still running: nothing
	// has been sent on events yet.
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ContentLength != -1 || resp.Header.Get("Content-Type") != "application/json;stream=watch" {
		t.Fatalf("length %d, header %v", resp.ContentLength, resp.Header)
	}
	lines := bufio.NewReader(resp.Body)
	for i := range 3 {
		want := fmt.Sprintf("event %d", i)
		sent := make(chan struct{})
		go func() { h.events <- want; close(sent) }()
		line, err := lines.ReadString('\n')
		if err != nil || line != want+"\n" {
			t.Fatalf("read %q, %v; want %q", line, err, want)
		}
		recv(t, "the event handed over", sent)
	}
}

func TestBodyCloseEndsHandler(t *testing.T) {
	h := newEventHandler()
	tr := New(h, nil)
	req, _ := http.NewRequest(http.MethodGet, "http://inproc/watch", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := recv(t, "the handler to end", h.ended); !errors.Is(err, context.Canceled) {
		t.Fatalf("handler ended with %v, want its context canceled", err)
	}
	if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
		t.Fatal("read after close succeeded")
	}
}

// TestBodyCloseUnblocksWriter: a handler writing faster than its client
// reads waits at the window, and closing the body fails its write.
func TestBodyCloseUnblocksWriter(t *testing.T) {
	ended := make(chan error, 1)
	chunk := make([]byte, 64<<10)
	tr := New(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for {
			if _, err := w.Write(chunk); err != nil {
				ended <- err
				return
			}
		}
	}), nil)
	req, _ := http.NewRequest(http.MethodGet, "http://inproc/flood", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := recv(t, "the writer to fail", ended); !errors.Is(err, errClientGone) {
		t.Fatalf("write error %v", err)
	}
}

func TestContextCancel(t *testing.T) {
	t.Run("before the response", func(t *testing.T) {
		started, ended := make(chan struct{}), make(chan error, 1)
		tr := New(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			close(started)
			<-r.Context().Done()
			ended <- r.Context().Err()
		}), nil)
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://inproc/slow", nil)
		go func() { <-started; cancel() }()
		if _, err := tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
			t.Fatalf("RoundTrip: %v, want context.Canceled", err)
		}
		if err := recv(t, "the handler to end", ended); !errors.Is(err, context.Canceled) {
			t.Fatalf("handler context: %v", err)
		}
	})
	t.Run("while streaming", func(t *testing.T) {
		h := newEventHandler()
		tr := New(h, nil)
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://inproc/watch", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		read := make(chan error, 1)
		go func() {
			_, err := resp.Body.Read(make([]byte, 10))
			read <- err
		}()
		cancel()
		if err := recv(t, "the blocked read", read); !errors.Is(err, context.Canceled) {
			t.Fatalf("read: %v, want context.Canceled", err)
		}
		if err := recv(t, "the handler to end", h.ended); !errors.Is(err, context.Canceled) {
			t.Fatalf("handler: %v", err)
		}
	})
}

// TestWatchOpenCloseLeaksNothing opens and closes a watch-like stream many
// times, half by closing the body and half by cancelling the context; the
// goroutine count returns to where it was once the workers have idled out.
func TestWatchOpenCloseLeaksNothing(t *testing.T) {
	h := newEventHandler()
	tr := New(h, nil)
	tr.idleTimeout = time.Millisecond
	base := runtime.NumGoroutine()
	for i := range 500 {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://inproc/watch", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			resp.Body.Close()
		} else {
			cancel()
		}
		recv(t, "the handler to end", h.ended)
		cancel()
		resp.Body.Close()
	}
	waitUntil(t, fmt.Sprintf("goroutines back to %d", base), func() bool { return runtime.NumGoroutine() <= base })
}

// TestConcurrentRequests: requests are not serialised; all of them are
// inside the handler at once.
func TestConcurrentRequests(t *testing.T) {
	const n = 64
	var mu sync.Mutex
	inside := 0
	all := make(chan struct{})
	tr := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inside++
		if inside == n {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
			io.WriteString(w, r.URL.Query().Get("i"))
		case <-r.Context().Done():
		}
	}), nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, n)
	for i := range n {
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://inproc/?i=%d", i), nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err == nil && string(b) != fmt.Sprint(i) {
				err = fmt.Errorf("request %d got %q", i, b)
			}
			errs <- err
		}()
	}
	for range n {
		if err := recv(t, "all requests in the handler at once", errs); err != nil {
			t.Fatal(err)
		}
	}
}
