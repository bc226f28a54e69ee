package inproc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// get sends a GET and returns the body, failing the test on any error.
func get(t *testing.T, tr *Transport, url string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitIdle waits until n workers wait for a request.
func waitIdle(t *testing.T, tr *Transport, n int64) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("%d idle workers", n), func() bool { return tr.idle.Load() == n })
}

// TestIdleWorkerServesNext: a request arriving while a worker waits runs
// on that worker instead of a new goroutine.
func TestIdleWorkerServesNext(t *testing.T) {
	tr := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Query().Get("i"))
	}), nil)
	for i := range 50 {
		if got := get(t, tr, fmt.Sprintf("http://inproc/?i=%d", i)); got != fmt.Sprint(i) {
			t.Fatalf("request %d answered %q", i, got)
		}
		waitIdle(t, tr, 1)
	}
	if n := tr.started.Load(); n != 1 {
		t.Fatalf("%d workers started for serial requests, want 1", n)
	}
}

// TestIdleWorkersExit: workers left without requests exit, leaving no
// goroutine behind; the transport starts new ones afterwards.
func TestIdleWorkersExit(t *testing.T) {
	base := runtime.NumGoroutine()
	release := make(chan struct{})
	tr := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/wait" {
			<-release
		}
		io.WriteString(w, "ok")
	}), nil)
	tr.idleTimeout = 20 * time.Millisecond
	done := make(chan string, 8)
	for range 8 {
		go func() { done <- get(t, tr, "http://inproc/wait") }()
	}
	waitUntil(t, "8 workers", func() bool { return tr.workers.Load() == 8 })
	close(release)
	for range 8 {
		recv(t, "a request to finish", done)
	}
	waitUntil(t, "the workers to exit", func() bool { return tr.workers.Load() == 0 && tr.idle.Load() == 0 })
	waitUntil(t, fmt.Sprintf("goroutines back to %d", base), func() bool { return runtime.NumGoroutine() <= base })
	if got := get(t, tr, "http://inproc/"); got != "ok" {
		t.Fatalf("after the workers exited: %q", got)
	}
}

// TestLongRequestsTakeNoWorker: requests that never end (watches) hold
// their own workers; a request sent meanwhile gets another one.
func TestLongRequestsTakeNoWorker(t *testing.T) {
	h := newEventHandler()
	mux := http.NewServeMux()
	mux.Handle("/watch", h)
	mux.HandleFunc("/get", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	tr := New(mux, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 3 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://inproc/watch", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
	}
	for range 5 {
		if got := get(t, tr, "http://inproc/get"); got != "ok" {
			t.Fatalf("beside the watches: %q", got)
		}
	}
	cancel()
	for range 3 {
		recv(t, "a watch to end", h.ended)
	}
}

// TestWorkerSurvivesHandlerEnd: a worker whose handler panicked serves
// the next request; one whose handler called runtime.Goexit is gone and
// accounted for.
func TestWorkerSurvivesHandlerEnd(t *testing.T) {
	tr := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			panic("boom")
		case "/goexit":
			runtime.Goexit()
		}
		io.WriteString(w, "ok")
	}), nil)
	req, _ := http.NewRequest(http.MethodGet, "http://inproc/panic", nil)
	if _, err := tr.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("panic: err %v", err)
	}
	waitIdle(t, tr, 1)
	if got := get(t, tr, "http://inproc/"); got != "ok" {
		t.Fatalf("after a panic: %q", got)
	}
	waitIdle(t, tr, 1)
	if tr.started.Load() != 1 {
		t.Fatalf("%d workers started, want the one that recovered", tr.started.Load())
	}
	get(t, tr, "http://inproc/goexit")
	waitUntil(t, "the exited worker to be accounted for", func() bool { return tr.workers.Load() == 0 })
	if got := get(t, tr, "http://inproc/"); got != "ok" {
		t.Fatalf("after Goexit: %q", got)
	}
}
