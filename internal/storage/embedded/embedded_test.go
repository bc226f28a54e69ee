package embedded

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
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
	// A single member keeps no raft log for followers beyond what etcd
	// insists on.
	if ecfg.SnapshotCatchUpEntries != 1 {
		t.Errorf("snapshot catch-up entries %d, want 1", ecfg.SnapshotCatchUpEntries)
	}
	if ecfg.Dir != "/data" || ecfg.ListenClientUrls[0].Host != "127.0.0.1:0" {
		t.Errorf("dir %q, client URL %v", ecfg.Dir, ecfg.ListenClientUrls)
	}
	if err := ecfg.Validate(); err != nil {
		t.Errorf("etcd rejects the config: %v", err)
	}
}

// Requests racing Close must fail cleanly, never reach the closed database.
func TestRequestsDuringCloseFailWithServerStopped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := Start(ctx, Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	client := e.Client()
	if _, err := client.Put(ctx, "/k", "v"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	lease, err := client.Grant(ctx, 60)
	if err != nil {
		t.Fatalf("Grant: %v", err)
	}
	calls := []func() error{
		func() error { _, err := client.Get(ctx, "/k"); return err },
		func() error { _, err := client.Get(ctx, "/k", clientv3.WithSerializable()); return err },
		func() error { _, err := client.Put(ctx, "/k", "v"); return err },
		func() error {
			_, err := client.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision("/k"), ">", 0)).
				Then(clientv3.OpGet("/k")).Commit()
			return err
		},
		func() error { _, err := client.Delete(ctx, "/gone"); return err },
		func() error { _, err := client.TimeToLive(ctx, lease.ID); return err },
	}
	started := make(chan struct{})
	var wg sync.WaitGroup
	for _, call := range calls {
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				started <- struct{}{}
				for {
					if err := call(); err != nil {
						if !errors.Is(err, rpctypes.ErrStopped) {
							t.Errorf("a call during Close failed with %v, want %v", err, rpctypes.ErrStopped)
						}
						return
					}
				}
			}()
		}
	}
	for range 8 * len(calls) {
		<-started
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	if _, err := client.Get(ctx, "/k"); !errors.Is(err, rpctypes.ErrStopped) {
		t.Fatalf("Get after Close: %v, want %v", err, rpctypes.ErrStopped)
	}
}
