// Package redistest runs a real, throw-away redis-server for tests of code
// that uses Redis, such as work-queue workers. It installs the Debian
// redis-server package when the binary is missing and installation works.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Server is one redis-server process listening on 127.0.0.1.
type Server struct {
	Addr  string
	port  int
	dir   string
	extra []string
	cmd   *exec.Cmd
	done  chan struct{}
}

var (
	installOnce sync.Once
	installErr  error
)

// binary finds redis-server, installing the Debian package once if missing.
func binary() (string, error) {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	installOnce.Do(func() {
		out, err := exec.Command("apt-get", "install", "-y", "redis-server").CombinedOutput()
		if err != nil {
			installErr = fmt.Errorf("apt-get install redis-server: %w: %s", err, tail(out))
		}
	})
	if installErr != nil {
		return "", installErr
	}
	return exec.LookPath("redis-server")
}

// Start runs redis-server on a free port with persistence off and extra
// arguments appended; it is stopped when the test ends. The test is skipped
// only when redis-server is absent and cannot be installed.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	if _, err := binary(); err != nil {
		t.Skipf("redis-server is not installed and could not be installed: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &Server{
		Addr:  net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		port:  port,
		dir:   t.TempDir(),
		extra: extra,
	}
	t.Cleanup(s.Stop)
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// Restart stops the server and starts a fresh one (empty, with no cached
// scripts) on the same port.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

func (s *Server) start() error {
	bin, err := binary()
	if err != nil {
		return err
	}
	args := []string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--daemonize", "no", "--save", "", "--appendonly", "no", "--dir", s.dir}
	cmd := exec.Command(bin, append(args, s.extra...)...)
	log, err := os.Create(s.dir + "/redis.log")
	if err != nil {
		return fmt.Errorf("create redis log: %w", err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = log.Close()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ping(s.Addr) {
			return nil
		}
		select {
		case <-done:
			out, _ := os.ReadFile(s.dir + "/redis.log")
			s.cmd = nil
			return fmt.Errorf("redis-server exited at start: %s", tail(out))
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.Stop()
	return fmt.Errorf("redis-server on %s not ready after 10s", s.Addr)
}

// ping reports whether the server accepts connections and answers; a
// password-protected server answers NOAUTH, which also means ready.
func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && (line == "+PONG\r\n" || len(line) > 0 && line[0] == '-')
}

func tail(b []byte) string {
	if len(b) > 400 {
		b = b[len(b)-400:]
	}
	return string(b)
}
