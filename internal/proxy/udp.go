package proxy

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/klog/v2"
)

// udpForwarder relays datagrams between clients of a Service port and a
// backend chosen per client address; each flow ends after an idle time.
type udpForwarder struct {
	conn *net.UDPConn
	be   *backends
	idle time.Duration

	mu       sync.Mutex
	sessions map[string]*udpSession
	closed   bool
	wg       sync.WaitGroup
}

type udpSession struct {
	up       *net.UDPConn
	lastSeen atomic.Int64 // unix nanoseconds of the last client datagram
}

func newUDPForwarder(conn *net.UDPConn, be *backends, idle time.Duration) *udpForwarder {
	f := &udpForwarder{conn: conn, be: be, idle: idle, sessions: map[string]*udpSession{}}
	f.wg.Add(1)
	go f.serve()
	return f
}

func (f *udpForwarder) serve() {
	defer f.wg.Done()
	buf := make([]byte, 64*1024)
	for {
		n, client, err := f.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s := f.session(client)
		if s == nil {
			continue
		}
		s.lastSeen.Store(time.Now().UnixNano())
		if _, err := s.up.Write(buf[:n]); err != nil {
			klog.V(4).InfoS("Service proxy UDP write failed", "client", client, "err", err)
		}
	}
}

// session returns the client's flow, opening one to the next backend that
// can be dialled.
func (f *udpForwarder) session(client *net.UDPAddr) *udpSession {
	k := client.String()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	if s, ok := f.sessions[k]; ok {
		return s
	}
	for _, addr := range f.be.order() {
		raddr, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			continue
		}
		up, err := net.DialUDP("udp", nil, raddr)
		if err != nil {
			continue
		}
		s := &udpSession{up: up}
		f.sessions[k] = s
		f.wg.Add(1)
		go f.relayReplies(k, client, s)
		return s
	}
	return nil
}

// relayReplies sends the backend's datagrams back to the client until the
// flow has been idle for the idle time.
func (f *udpForwarder) relayReplies(k string, client *net.UDPAddr, s *udpSession) {
	defer f.wg.Done()
	defer func() {
		f.mu.Lock()
		if f.sessions[k] == s {
			delete(f.sessions, k)
		}
		f.mu.Unlock()
		s.up.Close()
	}()
	buf := make([]byte, 64*1024)
	for {
		_ = s.up.SetReadDeadline(time.Now().Add(f.idle))
		n, err := s.up.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && time.Since(time.Unix(0, s.lastSeen.Load())) < f.idle {
				continue
			}
			return
		}
		if _, err := f.conn.WriteToUDP(buf[:n], client); err != nil {
			return
		}
	}
}

func (f *udpForwarder) close() {
	f.mu.Lock()
	f.closed = true
	for _, s := range f.sessions {
		s.up.Close()
	}
	f.mu.Unlock()
	f.conn.Close()
	f.wg.Wait()
}
