package inproc

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchHandler answers like a small GET: a fixed 1 KiB body after reading
// the request's.
var benchHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/vnd.kubernetes.protobuf")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(benchBody)
})

var benchBody = bytes.Repeat([]byte("k"), 1024)

// BenchmarkDeepHandler serves requests whose handler needs a deep stack,
// as the apiserver's managedFields and patch code does: a goroutine that
// starts small copies its stack each time it doubles.
func BenchmarkDeepHandler(b *testing.B) {
	tr := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		var frames [64]byte
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(benchBody[:deepFrames(256, frames[:])])
	}), nil)
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, "http://inproc/", nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// deepFrames recurses depth times with about 256 bytes of stack a frame.
//
//go:noinline
func deepFrames(depth int, scratch []byte) int {
	var frame [256]byte
	copy(frame[:], scratch)
	if depth == 0 {
		return int(frame[0]) + 1
	}
	return deepFrames(depth-1, frame[:len(scratch)])
}

// BenchmarkRoundTrip compares the in-process transport with the TLS +
// HTTP/2 loopback connection it replaces, one request at a time and with
// many goroutines sharing the transport (informers and workers do).
func BenchmarkRoundTrip(b *testing.B) {
	tlsServer := httptest.NewUnstartedServer(benchHandler)
	tlsServer.EnableHTTP2 = true
	tlsServer.StartTLS()
	defer tlsServer.Close()
	transports := []struct {
		name string
		rt   http.RoundTripper
		url  string
	}{
		{"inproc", New(benchHandler, nil), "https://127.0.0.1:6443/api/v1/namespaces/default/configmaps/x"},
		{"tls-h2", tlsServer.Client().Transport, tlsServer.URL + "/api/v1/namespaces/default/configmaps/x"},
	}
	for _, tr := range transports {
		run := func(b *testing.B) {
			req, _ := http.NewRequest(http.MethodGet, tr.url, nil)
			resp, err := tr.rt.RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
		b.Run(tr.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				run(b)
			}
		})
		b.Run(tr.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					run(b)
				}
			})
		})
	}
}
