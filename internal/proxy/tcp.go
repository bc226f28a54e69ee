package proxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"k8s.io/klog/v2"
)

// tcpForwarder accepts on a Service port and splices each connection to
// one backend.
type tcpForwarder struct {
	l           net.Listener
	be          *backends
	dialTimeout time.Duration

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newTCPForwarder(l net.Listener, be *backends, dialTimeout time.Duration) *tcpForwarder {
	f := &tcpForwarder{l: l, be: be, dialTimeout: dialTimeout, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.serve()
	return f
}

func (f *tcpForwarder) serve() {
	defer f.wg.Done()
	for {
		c, err := f.l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			klog.V(2).InfoS("Service proxy accept failed", "addr", f.l.Addr(), "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		f.wg.Add(1)
		go f.handle(c)
	}
}

func (f *tcpForwarder) handle(client net.Conn) {
	defer f.wg.Done()
	up := f.dial()
	if up == nil {
		// Reset rather than close cleanly: the client sees the same
		// refusal as with no listener at all.
		if tc, ok := client.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		client.Close()
		return
	}
	f.track(client, up, true)
	defer f.track(client, up, false)
	done := make(chan struct{}, 2)
	go func() { pipe(up, client); done <- struct{}{} }()
	go func() { pipe(client, up); done <- struct{}{} }()
	<-done
	<-done
	client.Close()
	up.Close()
}

// dial connects to the first backend that answers, in round-robin order.
func (f *tcpForwarder) dial() net.Conn {
	for _, addr := range f.be.order() {
		c, err := net.DialTimeout("tcp", addr, f.dialTimeout)
		if err == nil {
			return c
		}
		klog.V(4).InfoS("Service proxy could not reach endpoint", "endpoint", addr, "err", err)
	}
	return nil
}

// pipe copies src to dst, then half-closes dst so the peer sees EOF.
func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	} else {
		dst.Close()
	}
}

func (f *tcpForwarder) track(a, b net.Conn, add bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if add {
		f.conns[a], f.conns[b] = struct{}{}, struct{}{}
	} else {
		delete(f.conns, a)
		delete(f.conns, b)
	}
}

// close stops accepting and, when drop is set, ends open connections too.
func (f *tcpForwarder) close(drop bool) {
	f.l.Close()
	if drop {
		f.mu.Lock()
		for c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	}
}
