package embedded

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestStartCloseRestartKeepsData(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()

	began := time.Now()
	e, err := Start(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("cold start: %v", time.Since(began))
	eps := e.Endpoints()
	if len(eps) != 1 || !strings.HasPrefix(eps[0], "http://127.0.0.1:") || strings.HasSuffix(eps[0], ":0") {
		t.Fatalf("Endpoints() = %v, want one concrete 127.0.0.1 URL", eps)
	}
	if _, err := e.Client().Put(ctx, "/registry/test/k", "v1"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	began = time.Now()
	e, err = Start(ctx, Config{DataDir: dir})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Logf("warm start: %v", time.Since(began))
	defer e.Close()
	resp, err := e.Client().Get(ctx, "/registry/test/k")
	if err != nil {
		t.Fatalf("Get after restart: %v", err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v1" {
		t.Fatalf("after restart got %v, want the value written before Close", resp.Kvs)
	}
}

func TestTwoServersSideBySide(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := Start(ctx, Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("Start a: %v", err)
	}
	defer a.Close()
	b, err := Start(ctx, Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("Start b: %v", err)
	}
	defer b.Close()
	if a.Endpoints()[0] == b.Endpoints()[0] {
		t.Fatalf("both servers on %s", a.Endpoints()[0])
	}
	if _, err := a.Client().Put(ctx, "/k", "a"); err != nil {
		t.Fatalf("Put a: %v", err)
	}
	resp, err := b.Client().Get(ctx, "/k")
	if err != nil {
		t.Fatalf("Get b: %v", err)
	}
	if len(resp.Kvs) != 0 {
		t.Fatalf("server b sees server a's key")
	}
}

func TestStartRequiresDataDir(t *testing.T) {
	if _, err := Start(context.Background(), Config{}); err == nil {
		t.Fatal("Start without DataDir succeeded")
	}
}

func TestServerConfigDefaults(t *testing.T) {
	ecfg, err := serverConfig(Config{DataDir: "/data"})
	if err != nil {
		t.Fatal(err)
	}
	retention, err := time.ParseDuration(ecfg.AutoCompactionRetention)
	if err != nil || ecfg.AutoCompactionMode != "periodic" || retention != 5*time.Minute {
		t.Errorf("compaction %s every %q, want periodic 5m", ecfg.AutoCompactionMode, ecfg.AutoCompactionRetention)
	}
	if ecfg.Dir != "/data" || ecfg.ListenClientUrls[0].Host != "127.0.0.1:0" {
		t.Errorf("dir %q, client URL %v", ecfg.Dir, ecfg.ListenClientUrls)
	}
	if err := ecfg.Validate(); err != nil {
		t.Errorf("etcd rejects the config: %v", err)
	}
}
