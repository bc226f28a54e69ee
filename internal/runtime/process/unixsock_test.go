package process

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestShimSocketRoundTrip: a dialled connection reaches the listener in
// both directions, a closed listener wakes its Accept and unlinks the
// socket, and dialling a shim that is gone reports errNoShim.
func TestShimSocketRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ln, err := listenSocket(filepath.Join(dir, socketFile))
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan io.ReadWriteCloser, 1)
	acceptErr := make(chan error, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				acceptErr <- err
				return
			}
			accepted <- c
		}
	}()
	client, err := dialShim(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var server io.ReadWriteCloser
	select {
	case server = <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("no connection accepted")
	}
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("server read %q, %v", buf, err)
	}
	if _, err := server.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	server.Close()
	got, err := io.ReadAll(client)
	if err != nil || string(got) != "pong" {
		t.Fatalf("client read %q, %v; want pong then EOF", got, err)
	}

	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-acceptErr:
	case <-time.After(10 * time.Second):
		t.Fatal("Accept still blocked after Close")
	}
	if _, err := os.Stat(filepath.Join(dir, socketFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind after Close: %v", err)
	}
	if _, err := dialShim(dir); !errors.Is(err, errNoShim) {
		t.Errorf("dial after close: %v, want errNoShim", err)
	}
}

// TestShimSocketLongDir: a state directory too long for a socket address
// is reached through /proc/self/fd.
func TestShimSocketLongDir(t *testing.T) {
	dir := t.TempDir()
	for len(dir) < 120 {
		dir = filepath.Join(dir, "a-rather-long-directory-name")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	ln, err := listenSocket(filepath.Join(dir, socketFile))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			_, _ = c.Write([]byte("x"))
			c.Close()
		}
	}()
	c, err := dialShim(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, err := io.ReadAll(c); err != nil || string(got) != "x" {
		t.Fatalf("read %q, %v", got, err)
	}
}
