package inproc

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
)

// streamWindow bounds what a streaming handler may write ahead of its
// client, as a connection's flow-control window does; the handler's
// writes wait beyond it.
const streamWindow = 1 << 20

var (
	errBodyClosed = errors.New("inproc: read on closed response body")
	errClientGone = errors.New("inproc: the client closed the response body")
	errTruncated  = io.ErrUnexpectedEOF
	// errWriteAfterEnd is what a goroutine the handler left behind gets.
	errWriteAfterEnd = errors.New("inproc: write after the handler returned")
)

// maxPooled is the largest body buffer kept for reuse; larger ones go to
// the garbage collector rather than pin memory.
const maxPooled = 64 << 10

// buffers recycles body buffers: most responses are a few KiB, written
// once and read once.
var buffers = sync.Pool{New: func() any { return new([]byte) }}

// pipe carries a response body from the handler to the client. Writes
// are buffered: until the response is committed without limit (the
// response waits for them), then up to streamWindow unread bytes.
type pipe struct {
	mu        sync.Mutex
	cond      sync.Cond
	buf       []byte
	off       int   // buf[off:] is unread
	streaming bool  // the client has the response
	werr      error // the writer is done: io.EOF or how it failed
	trailer   http.Header
	rerr      error // the reader is gone: why
}

func newPipe() *pipe {
	p := &pipe{}
	p.cond.L = &p.mu
	return p
}

// write appends b, waiting while a streaming client is a window behind;
// unread is what the client has yet to read, b included.
func (p *pipe) write(b []byte) (n, unread int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.rerr == nil && p.streaming && len(p.buf)-p.off >= streamWindow {
		p.cond.Wait()
	}
	if p.rerr != nil {
		return 0, 0, errClientGone
	}
	if p.werr != nil {
		return 0, 0, errWriteAfterEnd
	}
	if p.buf == nil {
		p.buf = (*buffers.Get().(*[]byte))[:0]
	}
	if p.off == len(p.buf) {
		p.buf, p.off = p.buf[:0], 0
	}
	p.buf = append(p.buf, b...)
	p.cond.Broadcast()
	return len(b), len(p.buf) - p.off, nil
}

// buffered is how many written bytes the client has not read.
func (p *pipe) buffered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.buf) - p.off
}

func (p *pipe) startStreaming() {
	p.mu.Lock()
	p.streaming = true
	p.mu.Unlock()
}

// readErr is why the reader left, or nil.
func (p *pipe) readErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rerr != nil {
		return errClientGone
	}
	return nil
}

func (p *pipe) read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.off == len(p.buf) && p.werr == nil && p.rerr == nil {
		p.cond.Wait()
	}
	if p.rerr != nil {
		return 0, p.rerr
	}
	if p.off < len(p.buf) {
		n := copy(b, p.buf[p.off:])
		p.off += n
		if p.off == len(p.buf) && p.werr != nil {
			p.release()
		}
		p.cond.Broadcast()
		return n, nil
	}
	p.release()
	return 0, p.werr
}

// release returns the buffer for reuse once nothing can read or write it:
// the writer is done and the reader has all of it, or the reader is gone.
// The caller holds the lock.
func (p *pipe) release() {
	if buf := p.buf; cap(buf) > 0 && cap(buf) <= maxPooled {
		buf = buf[:0]
		buffers.Put(&buf)
	}
	p.buf, p.off = nil, 0
}

// closeWrite ends the body: err nil is a complete body, which trailer
// follows.
func (p *pipe) closeWrite(err error, trailer http.Header) {
	if err == nil {
		err = io.EOF
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.werr != nil {
		return
	}
	p.trailer = trailer
	p.werr = err
	p.cond.Broadcast()
}

// closeRead makes later reads fail with err and later writes fail; the
// first reason stays.
func (p *pipe) closeRead(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rerr == nil {
		p.rerr = err
		p.release()
	}
	p.cond.Broadcast()
}

// takeTrailer hands the trailer over once.
func (p *pipe) takeTrailer() http.Header {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.trailer
	p.trailer = nil
	return t
}

// responseBody is the client's side of the pipe.
type responseBody struct {
	pipe   *pipe
	resp   *http.Response
	cancel context.CancelFunc
	stop   func() bool // unregisters the client context's watcher
}

// Read reads the body; at EOF it fills in the response's trailers, as
// net/http's client does on the reading goroutine.
func (b *responseBody) Read(buf []byte) (int, error) {
	n, err := b.pipe.read(buf)
	if err == io.EOF {
		b.stop()
		for k, vs := range b.pipe.takeTrailer() {
			if b.resp.Trailer == nil {
				b.resp.Trailer = http.Header{}
			}
			b.resp.Trailer[k] = vs
		}
	}
	return n, err
}

// Close ends the handler's request if it is still running.
func (b *responseBody) Close() error {
	b.pipe.closeRead(errBodyClosed)
	b.stop()
	b.cancel()
	return nil
}

// onceCloser closes the request body once, whether the handler closes it
// or the transport does after the handler returned.
type onceCloser struct {
	io.ReadCloser
	once sync.Once
	err  error
}

func (c *onceCloser) Close() error {
	c.once.Do(func() { c.err = c.ReadCloser.Close() })
	return c.err
}
