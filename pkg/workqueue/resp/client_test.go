package resp_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/batchlet/batchlet/pkg/workqueue/redistest"
	"github.com/batchlet/batchlet/pkg/workqueue/resp"
)

func TestClientCommands(t *testing.T) {
	srv := redistest.Start(t)
	c := resp.NewClient(resp.Options{Addr: srv.Addr})
	defer c.Close()
	ctx := context.Background()

	item := []byte("bin\x00ary\r\nitem")
	if _, err := c.Do(ctx, "RPUSH", "l", item, "b"); err != nil {
		t.Fatal(err)
	}
	v, err := c.Do(ctx, "LRANGE", "l", 0, -1)
	if err != nil || len(v.Elems) != 2 || string(v.Elems[0].Str) != string(item) {
		t.Fatalf("LRANGE = %#v, %v", v, err)
	}
	v, err = c.Do(ctx, "GET", "missing")
	if err != nil || !v.IsNull() {
		t.Fatalf("GET missing = %#v, %v; want null", v, err)
	}
	_, err = c.Do(ctx, "NOSUCHCOMMAND")
	var rerr resp.Error
	if !errors.As(err, &rerr) || rerr.Prefix() != "ERR" {
		t.Fatalf("unknown command error = %v, want an ERR reply", err)
	}
	// An error reply leaves the connection in sync.
	if v, err := c.Do(ctx, "PING"); err != nil || string(v.Str) != "PONG" {
		t.Fatalf("PING after error reply = %#v, %v", v, err)
	}
}

func TestClientSelectsDB(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	c3 := resp.NewClient(resp.Options{Addr: srv.Addr, DB: 3})
	defer c3.Close()
	if _, err := c3.Do(ctx, "SET", "k", "in3"); err != nil {
		t.Fatal(err)
	}
	c0 := resp.NewClient(resp.Options{Addr: srv.Addr})
	defer c0.Close()
	if v, err := c0.Do(ctx, "GET", "k"); err != nil || !v.IsNull() {
		t.Fatalf("db 0 sees key written in db 3: %#v, %v", v, err)
	}
}

func TestClientAuth(t *testing.T) {
	srv := redistest.Start(t, "--requirepass", "s3cret")
	ctx := context.Background()
	bad := resp.NewClient(resp.Options{Addr: srv.Addr, Password: "wrong"})
	if _, err := bad.Do(ctx, "PING"); err == nil {
		t.Fatal("PING with a wrong password succeeded")
	}
	good := resp.NewClient(resp.Options{Addr: srv.Addr, Password: "s3cret"})
	defer good.Close()
	if _, err := good.Do(ctx, "PING"); err != nil {
		t.Fatalf("PING with the right password: %v", err)
	}
}

func TestClientBlockingHonoursContext(t *testing.T) {
	srv := redistest.Start(t)
	c := resp.NewClient(resp.Options{Addr: srv.Addr})
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.DoBlocking(ctx, time.Minute, "BLPOP", "empty", 60)
		errc <- err
	}()
	// Wait until the server reports the client blocked, then cancel.
	waitFor(t, func() bool {
		probe := resp.NewClient(resp.Options{Addr: srv.Addr})
		defer probe.Close()
		v, err := probe.Do(context.Background(), "INFO", "clients")
		return err == nil && contains(v.Str, "blocked_clients:1")
	})
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled BLPOP error = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelled BLPOP did not return")
	}
	// The client recovers on a fresh connection.
	if _, err := c.Do(context.Background(), "PING"); err != nil {
		t.Fatalf("PING after cancel: %v", err)
	}
}

func TestClientBlockingTimesOutOnServer(t *testing.T) {
	srv := redistest.Start(t)
	c := resp.NewClient(resp.Options{Addr: srv.Addr, IOTimeout: time.Second})
	defer c.Close()
	// The server-side wait (1.5s) exceeds IOTimeout; the block allowance
	// keeps the client from giving up first.
	v, err := c.DoBlocking(context.Background(), 1500*time.Millisecond, "BLPOP", "empty", "1.5")
	if err != nil || !v.IsNull() {
		t.Fatalf("BLPOP on empty list = %#v, %v; want a null reply", v, err)
	}
}

func TestClientReconnectsAfterRestart(t *testing.T) {
	srv := redistest.Start(t)
	c := resp.NewClient(resp.Options{Addr: srv.Addr})
	defer c.Close()
	ctx := context.Background()
	script := resp.NewScript("return redis.call('INCR', KEYS[1])")
	if v, err := script.Run(ctx, c, []string{"n"}); err != nil || v.Int != 1 {
		t.Fatalf("script before restart = %#v, %v", v, err)
	}
	srv.Restart(t)
	// The idle connection is dead; the command goes out on a new one, and
	// the script, no longer cached, is sent again in full.
	if v, err := script.Run(ctx, c, []string{"n"}); err != nil || v.Int != 1 {
		t.Fatalf("script after restart = %#v, %v", v, err)
	}
}

func TestClientServerDown(t *testing.T) {
	srv := redistest.Start(t)
	addr := srv.Addr
	srv.Stop()
	c := resp.NewClient(resp.Options{Addr: addr, DialTimeout: time.Second})
	if _, err := c.Do(context.Background(), "PING"); err == nil {
		t.Fatal("PING to a stopped server succeeded")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func contains(b []byte, s string) bool {
	return strings.Contains(string(b), s)
}
