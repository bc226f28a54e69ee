package workqueue_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/batchlet/batchlet/pkg/workqueue"
	"github.com/batchlet/batchlet/pkg/workqueue/redistest"
	"github.com/batchlet/batchlet/pkg/workqueue/resp"
)

var fruits = []string{"apple", "banana", "cherry", "date", "fig", "grape", "lemon", "melon", "orange"}

func newQueue(t testing.TB, addr, name string) *workqueue.Queue {
	t.Helper()
	c := resp.NewClient(resp.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return workqueue.New(c, name, workqueue.Options{ReclaimInterval: 100 * time.Millisecond})
}

func fill(t testing.TB, q *workqueue.Queue, items ...string) {
	t.Helper()
	bs := make([][]byte, len(items))
	for i, s := range items {
		bs[i] = []byte(s)
	}
	if _, err := q.Add(context.Background(), bs...); err != nil {
		t.Fatal(err)
	}
}

func mustEmpty(t *testing.T, q *workqueue.Queue, want bool) {
	t.Helper()
	got, err := q.Empty(context.Background())
	if err != nil || got != want {
		t.Fatalf("Empty() = %v, %v; want %v", got, err, want)
	}
}

func TestLeaseCompleteInOrder(t *testing.T) {
	srv := redistest.Start(t)
	q := newQueue(t, srv.Addr, "job2")
	ctx := context.Background()
	mustEmpty(t, q, true)
	fill(t, q, "apple", "bin\x00\r\nary")
	mustEmpty(t, q, false)

	a, err := q.Lease(ctx, 10*time.Second, 0)
	if err != nil || string(a) != "apple" {
		t.Fatalf("first Lease = %q, %v; want apple", a, err)
	}
	b, err := q.Lease(ctx, 10*time.Second, 0)
	if err != nil || string(b) != "bin\x00\r\nary" {
		t.Fatalf("second Lease = %q, %v; want the binary item", b, err)
	}
	if none, err := q.Lease(ctx, 10*time.Second, 0); err != nil || none != nil {
		t.Fatalf("Lease on a drained queue = %q, %v; want nil", none, err)
	}
	if err := q.Complete(ctx, a); err != nil {
		t.Fatal(err)
	}
	// One item is still leased: the queue is not empty, since it may return.
	mustEmpty(t, q, false)
	if err := q.Complete(ctx, b); err != nil {
		t.Fatal(err)
	}
	mustEmpty(t, q, true)
	if err := q.Complete(ctx, b); !errors.Is(err, workqueue.ErrLeaseLost) {
		t.Fatalf("second Complete = %v, want ErrLeaseLost", err)
	}
	if _, err := q.Lease(ctx, 0, 0); err == nil {
		t.Fatal("Lease with a zero lease duration succeeded")
	}
}

func TestLeaseWaitsForNewItem(t *testing.T) {
	srv := redistest.Start(t)
	q := newQueue(t, srv.Addr, "q")
	producer := newQueue(t, srv.Addr, "q")
	got := make(chan []byte, 1)
	go func() {
		item, err := q.Lease(context.Background(), 10*time.Second, 30*time.Second)
		if err != nil {
			t.Error(err)
		}
		got <- item
	}()
	fill(t, producer, "late")
	select {
	case item := <-got:
		if string(item) != "late" {
			t.Fatalf("blocked Lease = %q, want late", item)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("blocked Lease did not receive the new item")
	}
	if err := q.Complete(context.Background(), []byte("late")); err != nil {
		t.Fatalf("Complete of an item leased by waiting: %v", err)
	}
	mustEmpty(t, q, true)
}

// work runs the tutorial's worker loop and records what it processed.
func work(ctx context.Context, q *workqueue.Queue, lease time.Duration, record func(string)) error {
	for {
		empty, err := q.Empty(ctx)
		if err != nil {
			return err
		}
		if empty {
			return nil
		}
		item, err := q.Lease(ctx, lease, 200*time.Millisecond)
		if err != nil {
			return err
		}
		if item == nil {
			continue
		}
		record(string(item))
		if err := q.Complete(ctx, item); err != nil {
			return fmt.Errorf("complete %q: %w", item, err)
		}
	}
}

func TestConcurrentWorkersProcessEachItemOnce(t *testing.T) {
	for _, workers := range []int{2, 3, 4} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			srv := redistest.Start(t)
			fill(t, newQueue(t, srv.Addr, "job2"), fruits...)
			var mu sync.Mutex
			var seen []string
			var wg sync.WaitGroup
			for range workers {
				q := newQueue(t, srv.Addr, "job2")
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := work(context.Background(), q, 10*time.Second, func(s string) {
						mu.Lock()
						seen = append(seen, s)
						mu.Unlock()
					})
					if err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			sort.Strings(seen)
			if fmt.Sprint(seen) != fmt.Sprint(fruits) {
				t.Fatalf("processed %v, want each of %v once", seen, fruits)
			}
		})
	}
}

func TestExpiredLeaseIsProcessedByAnotherWorker(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	dead := newQueue(t, srv.Addr, "job2")
	fill(t, dead, fruits...)
	// This worker leases one item and dies without completing it.
	lost, err := dead.Lease(ctx, time.Second, 0)
	if err != nil || lost == nil {
		t.Fatalf("Lease = %q, %v", lost, err)
	}
	var mu sync.Mutex
	count := map[string]int{}
	var wg sync.WaitGroup
	for range 2 {
		q := newQueue(t, srv.Addr, "job2")
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := work(ctx, q, 10*time.Second, func(s string) {
				mu.Lock()
				count[s]++
				mu.Unlock()
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, f := range fruits {
		if count[f] != 1 {
			t.Errorf("%s processed %d times by the live workers, want 1", f, count[f])
		}
	}
	// The dead worker's late completion must not count: its lease is gone.
	if err := dead.Complete(ctx, lost); !errors.Is(err, workqueue.ErrLeaseLost) {
		t.Fatalf("Complete after expiry = %v, want ErrLeaseLost", err)
	}
}

func TestCompleteAfterReleaseByAnotherWorker(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	a := newQueue(t, srv.Addr, "q")
	b := newQueue(t, srv.Addr, "q")
	fill(t, a, "x")
	if item, err := a.Lease(ctx, 200*time.Millisecond, 0); err != nil || string(item) != "x" {
		t.Fatalf("a.Lease = %q, %v", item, err)
	}
	// b waits for the lease to lapse and takes the item over.
	item, err := b.Lease(ctx, time.Minute, 30*time.Second)
	if err != nil || string(item) != "x" {
		t.Fatalf("b.Lease = %q, %v; want x after a's lease expired", item, err)
	}
	if err := a.Renew(ctx, item, time.Minute); !errors.Is(err, workqueue.ErrLeaseLost) {
		t.Fatalf("a.Renew = %v, want ErrLeaseLost", err)
	}
	if err := a.Complete(ctx, item); !errors.Is(err, workqueue.ErrLeaseLost) {
		t.Fatalf("a.Complete = %v, want ErrLeaseLost", err)
	}
	mustEmpty(t, a, false)
	if err := b.Complete(ctx, item); err != nil {
		t.Fatal(err)
	}
	mustEmpty(t, a, true)
}

func TestRenewKeepsLease(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	a := newQueue(t, srv.Addr, "q")
	fill(t, a, "long")
	item, err := a.Lease(ctx, 300*time.Millisecond, 0)
	if err != nil || item == nil {
		t.Fatalf("Lease = %q, %v", item, err)
	}
	if err := a.Renew(ctx, item, time.Hour); err != nil {
		t.Fatal(err)
	}
	probe := resp.NewClient(resp.Options{Addr: srv.Addr})
	defer probe.Close()
	keys, err := probe.Do(ctx, "KEYS", "q:lease:*")
	if err != nil || len(keys.Elems) != 1 {
		t.Fatalf("lease keys = %#v, %v", keys, err)
	}
	ttl, err := probe.Do(ctx, "PTTL", keys.Elems[0].Str)
	if err != nil || ttl.Int < int64(59*time.Minute/time.Millisecond) {
		t.Fatalf("PTTL after Renew(1h) = %d ms, %v", ttl.Int, err)
	}
	if n, err := a.Reclaim(ctx); err != nil || n != 0 {
		t.Fatalf("Reclaim of a live lease moved %d, %v", n, err)
	}
}

func TestIdenticalItemsAreProcessedOneAtATime(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	a := newQueue(t, srv.Addr, "q")
	b := newQueue(t, srv.Addr, "q")
	fill(t, a, "same", "same")
	first, err := a.Lease(ctx, time.Minute, 0)
	if err != nil || string(first) != "same" {
		t.Fatalf("a.Lease = %q, %v", first, err)
	}
	if got, err := b.Lease(ctx, time.Minute, 0); err != nil || got != nil {
		t.Fatalf("b.Lease while the twin is leased = %q, %v; want nil", got, err)
	}
	if err := a.Complete(ctx, first); err != nil {
		t.Fatal(err)
	}
	second, err := b.Lease(ctx, time.Minute, 10*time.Second)
	if err != nil || string(second) != "same" {
		t.Fatalf("b.Lease after the twin completed = %q, %v", second, err)
	}
	if err := b.Complete(ctx, second); err != nil {
		t.Fatal(err)
	}
	mustEmpty(t, a, true)
}

func TestQueueSurvivesServerRestart(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	q := newQueue(t, srv.Addr, "q")
	fill(t, q, "before")
	mustEmpty(t, q, false)
	srv.Restart(t) // an empty server with no cached scripts
	mustEmpty(t, q, true)
	fill(t, q, "after")
	item, err := q.Lease(ctx, time.Minute, 0)
	if err != nil || string(item) != "after" {
		t.Fatalf("Lease after restart = %q, %v", item, err)
	}
	if err := q.Complete(ctx, item); err != nil {
		t.Fatal(err)
	}
}

func TestSessionIDs(t *testing.T) {
	a := workqueue.New(nil, "q", workqueue.Options{})
	b := workqueue.New(nil, "q", workqueue.Options{})
	if len(a.SessionID()) != 36 || a.SessionID() == b.SessionID() {
		t.Fatalf("session IDs %q and %q: want two distinct UUIDs", a.SessionID(), b.SessionID())
	}
	if c := workqueue.New(nil, "q", workqueue.Options{SessionID: "fixed"}); c.SessionID() != "fixed" {
		t.Fatalf("SessionID = %q, want fixed", c.SessionID())
	}
}
