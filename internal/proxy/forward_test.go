package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// echoServer echoes every line, prefixed with id when id is non-empty.
func echoServer(t testing.TB, id string) string {
	t.Helper()
	return echoServerOn(t, "127.0.0.1:0", id)
}

// echoServerOn answers each line with "<id>:<line>" (or echoes bytes when
// id is empty) on addr, and returns the address it listens on.
func echoServerOn(t testing.TB, addr, id string) string {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if id == "" {
					_, _ = io.Copy(c, c)
					return
				}
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := io.WriteString(c, id+":"+line); err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

func startTCP(t testing.TB, eps ...string) (string, *tcpForwarder) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := newTCPForwarder(l, newBackends(eps), time.Second)
	t.Cleanup(func() { f.close(true) })
	return l.Addr().String(), f
}

func roundTrip(t *testing.T, addr, msg string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading reply: %v", err)
	}
	return strings.TrimSuffix(line, "\n")
}

func TestTCPRoundRobin(t *testing.T) {
	addr, _ := startTCP(t, echoServer(t, "a"), echoServer(t, "b"))
	seen := map[string]int{}
	for i := 0; i < 4; i++ {
		reply := roundTrip(t, addr, "hi")
		id, msg, _ := strings.Cut(reply, ":")
		if msg != "hi" {
			t.Fatalf("reply = %q", reply)
		}
		seen[id]++
	}
	if seen["a"] != 2 || seen["b"] != 2 {
		t.Errorf("connections per backend = %v, want 2 each", seen)
	}
}

func TestTCPSkipsDeadBackend(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	addr, _ := startTCP(t, deadAddr, echoServer(t, "live"))
	for i := 0; i < 2; i++ {
		if got := roundTrip(t, addr, "x"); got != "live:x" {
			t.Errorf("reply = %q, want live:x", got)
		}
	}
}

func TestTCPNoBackendsResets(t *testing.T) {
	addr, _ := startTCP(t)
	c, err := net.Dial("tcp", addr)
	if errors.Is(err, syscall.ECONNRESET) {
		return // reset before the handshake completed on our side
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read = %v, want connection reset", err)
	}
}

func TestTCPHalfClose(t *testing.T) {
	addr, _ := startTCP(t, echoServer(t, ""))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	payload := strings.Repeat("0123456789", 100000)
	go func() {
		_, _ = io.WriteString(c, payload)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != payload {
		t.Errorf("echoed %d bytes, want %d", len(got), len(payload))
	}
}

func TestUDPForwarding(t *testing.T) {
	backend, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := backend.ReadFromUDP(buf)
			if err != nil {
				return
			}
			_, _ = backend.WriteToUDP(append([]byte("re:"), buf[:n]...), from)
		}
	}()
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := newUDPForwarder(front, newBackends([]string{backend.LocalAddr().String()}), time.Minute)
	defer f.close()
	c, err := net.Dial("udp", front.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	for _, msg := range []string{"one", "two"} {
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(buf[:n]); got != "re:"+msg {
			t.Errorf("reply = %q, want re:%s", got, msg)
		}
	}
	f.mu.Lock()
	sessions := len(f.sessions)
	f.mu.Unlock()
	if sessions != 1 {
		t.Errorf("sessions = %d, want one flow for one client", sessions)
	}
}
