package queueworker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/util/workqueue"
)

func newQueue() workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueue(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Millisecond, 10*time.Millisecond))
}

// recorder counts syncs per key and signals each one.
type recorder struct {
	mu    sync.Mutex
	calls map[string]int
	seen  chan string
}

func newRecorder() *recorder {
	return &recorder{calls: map[string]int{}, seen: make(chan string, 100)}
}

func (r *recorder) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[key]++
	return r.calls[key]
}

func waitFor(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-ch:
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %q within the deadline", want)
		}
	}
}

func TestFailedSyncIsRetriedUntilItSucceeds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := newQueue()
	defer q.ShutDown()
	r := newRecorder()
	sync := func(_ context.Context, key string) error {
		n := r.count(key)
		if n < 3 {
			r.seen <- "fail"
			return errors.New("not yet")
		}
		r.seen <- "ok"
		return nil
	}
	Start(ctx, q, 2, sync, func(context.Context, string, error) bool { return true })
	q.Add("a")
	waitFor(t, r.seen, "ok")
	if n := q.NumRequeues("a"); n != 0 {
		t.Fatalf("a succeeded but the queue still counts %d requeues: it was not forgotten", n)
	}
}

func TestDroppedKeyIsNotRetried(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := newQueue()
	defer q.ShutDown()
	r := newRecorder()
	sync := func(_ context.Context, key string) error {
		r.count(key)
		r.seen <- key
		return errors.New("permanent")
	}
	Start(ctx, q, 1, sync, func(context.Context, string, error) bool { return false })
	q.Add("drop")
	waitFor(t, r.seen, "drop")
	q.Add("marker")
	waitFor(t, r.seen, "marker")
	// One worker: "drop" was fully handled before "marker" was taken.
	if n := q.NumRequeues("drop"); n != 0 {
		t.Fatalf("dropped key was requeued %d times", n)
	}
}

func TestWorkersStopWhenQueueShutsDown(t *testing.T) {
	q := newQueue()
	done := make(chan struct{})
	w := worker[string]{q: q, sync: func(context.Context, string) error { return nil }, failed: logAndRetry[string]}
	go func() { w.run(context.Background()); close(done) }()
	q.ShutDown()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("worker still running after the queue shut down")
	}
}
