package inproc

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// commitThreshold is how much a handler may write before its response is
// handed over unflushed, as a server's write buffer fills and goes out.
// Below it, a handler that returns yields a response of known length.
const commitThreshold = 64 << 10

// responseWriter is the handler's side of one response. Only the handler's
// goroutine touches it; the client's goroutine reads resp and failed once
// committed is closed, and the body through the pipe.
type responseWriter struct {
	header      http.Header
	status      int
	wroteHeader bool
	bodyAllowed bool // the status allows a body
	head        bool // a HEAD request: the body is discarded
	isCommitted bool
	committed   chan struct{}
	resp        *http.Response
	declared    http.Header // trailer names announced in the header
	failed      error       // set instead of resp when the handler died first
	pipe        *pipe
}

func newResponseWriter(req *http.Request, head bool) *responseWriter {
	return &responseWriter{
		header:    http.Header{},
		head:      head,
		committed: make(chan struct{}),
		resp:      &http.Response{Request: req},
		pipe:      newPipe(),
	}
}

func (w *responseWriter) Header() http.Header { return w.header }

// WriteHeader records the status. Informational codes other than 101 are
// not delivered to clients of this transport; a code that is not a valid
// HTTP status becomes 500 instead of the panic a server would raise.
func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		code = http.StatusInternalServerError
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		return
	}
	w.wroteHeader = true
	w.status = code
	w.bodyAllowed = bodyAllowed(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.bodyAllowed {
		return 0, http.ErrBodyNotAllowed
	}
	if w.head {
		return len(p), nil
	}
	if !w.isCommitted && len(p) > 0 {
		w.sniff(p)
	}
	n, unread, err := w.pipe.write(p)
	if err == nil && !w.isCommitted && unread > commitThreshold {
		w.commit(-1)
	}
	return n, err
}

// Flush hands the response to the client now; later writes stream.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is Flush reporting a client that has gone away, for
// http.ResponseController.
func (w *responseWriter) FlushError() error {
	if !w.isCommitted {
		w.commit(-1)
	}
	return w.pipe.readErr()
}

// Hijack refuses: there is no connection to take over.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, ErrHijack
}

// sniff sets Content-Type from the first bytes when the handler set none,
// as net/http's server does.
func (w *responseWriter) sniff(p []byte) {
	if _, ok := w.header["Content-Type"]; !ok && w.pipe.buffered() == 0 {
		w.header.Set("Content-Type", http.DetectContentType(p))
	}
}

// commit fills in the response from the status and headers written so
// far and releases it to the client. length is the body's length when
// known, else -1.
func (w *responseWriter) commit(length int64) {
	if w.isCommitted {
		return
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.isCommitted = true
	resp := w.resp
	resp.StatusCode = w.status
	resp.Status = strconv.Itoa(w.status) + " " + http.StatusText(w.status)
	resp.Proto, resp.ProtoMajor, resp.ProtoMinor = "HTTP/1.1", 1, 1
	resp.Header = w.header.Clone()
	resp.Trailer = declaredTrailers(resp.Header)
	w.declared = resp.Trailer.Clone() // resp.Trailer is the client's now
	resp.ContentLength = w.contentLength(resp.Header, length)
	if resp.ContentLength >= 0 && w.bodyAllowed {
		resp.Header.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.pipe.startStreaming()
	close(w.committed)
}

// contentLength is what a client learns of the body's length: none for
// statuses without a body, the handler's own Content-Length, else the
// length of a body written in full before the response went out.
func (w *responseWriter) contentLength(h http.Header, known int64) int64 {
	if !w.bodyAllowed {
		return 0
	}
	if v := h.Get("Content-Length"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			return n
		}
	}
	if w.head {
		return -1
	}
	return known
}

// finish completes the response after the handler returned or panicked
// (panicked is the recovered value). cancelled is the request context's
// error: a body cut short by the client's cancellation ends with it, as
// net/http's client reports, rather than with a clean EOF.
func (w *responseWriter) finish(panicked any, cancelled error) {
	if panicked != nil {
		if !w.isCommitted {
			// Nothing reached the client: the request fails, as when a
			// server drops the connection.
			w.failed = fmt.Errorf("inproc: handler for %s %s failed: %v", w.resp.Request.Method, w.resp.Request.URL.Path, panicked)
			w.isCommitted = true
			w.pipe.closeRead(w.failed)
			close(w.committed)
			return
		}
		w.pipe.closeWrite(errTruncated, nil)
		return
	}
	if !w.isCommitted {
		w.commit(int64(w.pipe.buffered()))
	}
	w.pipe.closeWrite(cancelled, w.trailers())
}

// trailers are the trailer values the handler set: declared names and
// names with http.TrailerPrefix. The client's goroutine copies them into
// the response when it reads EOF, so the client never sees the map change
// under it.
func (w *responseWriter) trailers() http.Header {
	var t http.Header
	add := func(k string, vs []string) {
		if t == nil {
			t = http.Header{}
		}
		t[k] = append([]string(nil), vs...)
	}
	for k := range w.declared {
		if vs, ok := w.header[k]; ok {
			add(k, vs)
		}
	}
	for k, vs := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			add(http.CanonicalHeaderKey(name), vs)
		}
	}
	return t
}

// declaredTrailers moves the "Trailer" header's names out of h into a
// trailer map with nil values, as a client presents them before the body
// is read.
func declaredTrailers(h http.Header) http.Header {
	vs, ok := h["Trailer"]
	if !ok {
		return nil
	}
	delete(h, "Trailer")
	var t http.Header
	for _, v := range vs {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				if t == nil {
					t = http.Header{}
				}
				t[http.CanonicalHeaderKey(name)] = nil
			}
		}
	}
	return t
}

// bodyAllowed reports whether a status may carry a body.
func bodyAllowed(code int) bool {
	switch {
	case code >= 100 && code <= 199:
		return false
	case code == http.StatusNoContent, code == http.StatusNotModified:
		return false
	}
	return true
}
