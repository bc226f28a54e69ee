package inproc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// recv waits for a value on ch with a deadline.
func recv[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

// trackedBody records whether the transport closed the request body.
type trackedBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *trackedBody) Close() error { b.closed.Store(true); return nil }

func TestRoundTrip(t *testing.T) {
	type seen struct {
		method, uri, path, query, host, remote, proto, ua, body string
		length                                                  int64
		tlsNil                                                  bool
	}
	got := make(chan seen, 1)
	tr := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.RequestURI, r.URL.Path, r.URL.RawQuery, r.Host, r.RemoteAddr, r.Proto,
			r.Header.Get("User-Agent"), string(b), r.ContentLength, r.TLS == nil}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Answer", "42")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"kind":"Pod"}`)
	}), nil)
	body := &trackedBody{Reader: strings.NewReader(`{"a":1}`)}
	req, _ := http.NewRequest(http.MethodPost, "https://127.0.0.1:6443/api/v1/namespaces/default/pods?fieldManager=x&dryRun=All", body)
	req.ContentLength = 7
	req.Header.Set("User-Agent", "test/1")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := seen{"POST", "/api/v1/namespaces/default/pods?fieldManager=x&dryRun=All", "/api/v1/namespaces/default/pods",
		"fieldManager=x&dryRun=All", "127.0.0.1:6443", RemoteAddr, "HTTP/1.1", "test/1", `{"a":1}`, 7, true}
	if s := <-got; s != want {
		t.Errorf("handler saw %+v,\nwant %+v", s, want)
	}
	if resp.StatusCode != http.StatusCreated || resp.Status != "201 Created" {
		t.Errorf("status %d %q", resp.StatusCode, resp.Status)
	}
	if string(out) != `{"kind":"Pod"}` || resp.ContentLength != int64(len(out)) || resp.Header.Get("Content-Length") != "14" {
		t.Errorf("body %q, length %d, header %q", out, resp.ContentLength, resp.Header.Get("Content-Length"))
	}
	if resp.Header.Get("X-Answer") != "42" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", resp.Header)
	}
	if resp.Request != req {
		t.Error("response does not point at its request")
	}
	waitUntil(t, "the request body closed", body.closed.Load)
}

func TestResponseDefaults(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		handler  http.HandlerFunc
		status   int
		body     string
		ctype    string
		length   int64
		writeErr error
	}{
		{name: "nothing written", handler: func(http.ResponseWriter, *http.Request) {}, status: 200, length: 0},
		{name: "content type sniffed", handler: func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "<html>hi</html>") },
			status: 200, body: "<html>hi</html>", ctype: "text/html; charset=utf-8", length: 15},
		{name: "no body with 204", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNoContent)
			if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrBodyNotAllowed) {
				panic("write with 204 was allowed")
			}
		}, status: 204, length: 0},
		{name: "second WriteHeader ignored", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, "gone")
		}, status: 404, body: "gone", ctype: "text/plain; charset=utf-8", length: 4},
		{name: "informational then final", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusAccepted)
		}, status: 202, length: 0},
		{name: "invalid code", handler: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(42) }, status: 500, length: 0},
		{name: "HEAD discards the body", method: http.MethodHead, handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "hidden")
		}, status: 200, ctype: "text/plain", length: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New(tt.handler, nil)
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req, _ := http.NewRequest(method, "http://inproc/x", nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || string(b) != tt.body || resp.ContentLength != tt.length {
				t.Errorf("status %d body %q length %d, want %d %q %d", resp.StatusCode, b, resp.ContentLength, tt.status, tt.body, tt.length)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type %q, want %q", got, tt.ctype)
			}
		})
	}
}

// TestLargeBody: a body past the commit threshold arrives whole while the
// handler is still writing.
func TestLargeBody(t *testing.T) {
	want := bytes.Repeat([]byte("0123456789abcdef"), 3*streamWindow/16)
	tr := New(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for b := want; len(b) > 0; b = b[1000:] {
			n := min(1000, len(b))
			if _, err := w.Write(b[:n]); err != nil {
				return
			}
			if n < 1000 {
				return
			}
		}
	}), nil)
	req, _ := http.NewRequest(http.MethodGet, "http://inproc/big", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d", len(got), len(want))
	}
}

func TestTrailers(t *testing.T) {
	tr := New(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "data")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Checksum", "abc")
		w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
	}), nil)
	req, _ := http.NewRequest(http.MethodGet, "http://inproc/t", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, ok := resp.Trailer["X-Checksum"]; !ok || resp.Header.Get("Trailer") != "" {
		t.Fatalf("declared trailers %v, header %v", resp.Trailer, resp.Header)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.Trailer.Get("X-Checksum") != "abc" || resp.Trailer.Get("X-Late") != "yes" {
		t.Fatalf("trailers after EOF: %v", resp.Trailer)
	}
}

// TestMarkReachesHandler: the mark function derives the handler's request
// context, and only that transport's requests carry it.
func TestMarkReachesHandler(t *testing.T) {
	type key struct{}
	seen := make(chan any, 2)
	h := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen <- r.Context().Value(key{}) })
	marked := New(h, func(ctx context.Context) context.Context { return context.WithValue(ctx, key{}, "mine") })
	plain := New(h, nil)
	for _, tr := range []*Transport{marked, plain} {
		req, _ := http.NewRequest(http.MethodGet, "http://inproc/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if a, b := <-seen, <-seen; a != "mine" || b != nil {
		t.Fatalf("marked request saw %v, plain request saw %v", a, b)
	}
	if marked.Requests() != 1 || plain.Requests() != 1 {
		t.Fatalf("request counters %d %d", marked.Requests(), plain.Requests())
	}
}

func TestHijackAndUpgradeRefused(t *testing.T) {
	hijackErr := make(chan error, 1)
	tr := New(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _, err := http.NewResponseController(w).Hijack()
		hijackErr <- err
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}), nil)
	req, _ := http.NewRequest(http.MethodPost, "http://inproc/api/v1/namespaces/d/pods/p/exec", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := recv(t, "the hijack attempt", hijackErr); !errors.Is(err, ErrHijack) {
		t.Fatalf("hijack error %v, want ErrHijack", err)
	}

	body := &trackedBody{Reader: strings.NewReader("")}
	req, _ = http.NewRequest(http.MethodPost, "http://inproc/api/v1/namespaces/d/pods/p/exec", body)
	req.Header.Set("Connection", "keep-alive, Upgrade")
	req.Header.Set("Upgrade", "SPDY/3.1")
	if _, err := tr.RoundTrip(req); !errors.Is(err, ErrUpgrade) {
		t.Fatalf("upgrade request: %v, want ErrUpgrade", err)
	}
	if !body.closed.Load() {
		t.Fatal("refused request's body not closed")
	}
	if tr.Requests() != 1 {
		t.Fatalf("the refused upgrade reached the handler: %d requests", tr.Requests())
	}
}

// TestHandlerPanics: a panic fails the one request, before or after the
// response went out, and the process goes on.
func TestHandlerPanics(t *testing.T) {
	early := New(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), nil)
	req, _ := http.NewRequest(http.MethodGet, "http://inproc/", nil)
	if resp, err := early.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("panic before the response: resp %v err %v", resp, err)
	}
	late := New(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}), nil)
	resp, err := late.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if string(b) != "partial" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("body %q err %v, want the partial body and ErrUnexpectedEOF", b, err)
	}
}
