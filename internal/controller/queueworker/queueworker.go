// Package queueworker is the worker loop controllers share: take a key
// from a rate-limited work queue, sync it, forget it when the sync
// succeeds and requeue it with the queue's backoff when it fails.
package queueworker

import (
	"context"
	"time"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/workqueue"
)

// Sync brings the state named by key to what it should be.
type Sync[T comparable] func(ctx context.Context, key T) error

// Failed is told of a failed sync and says whether to retry the key with
// backoff (true) or drop it until something requeues it (false).
type Failed[T comparable] func(ctx context.Context, key T, err error) (retry bool)

// Start runs workers goroutines (at least one) until ctx ends or q shuts
// down. A nil failed logs the error and retries.
func Start[T comparable](ctx context.Context, q workqueue.TypedRateLimitingInterface[T], workers int, sync Sync[T], failed Failed[T]) {
	w := worker[T]{q: q, sync: sync, failed: failed}
	for i := 0; i < max(workers, 1); i++ {
		go wait.UntilWithContext(ctx, w.run, time.Second)
	}
}

func logAndRetry[T comparable](ctx context.Context, key T, err error) bool {
	utilruntime.HandleErrorWithContext(ctx, err, "sync failed, retrying", "key", key)
	return true
}

type worker[T comparable] struct {
	q      workqueue.TypedRateLimitingInterface[T]
	sync   Sync[T]
	failed Failed[T]
}

func (w worker[T]) run(ctx context.Context) {
	for ProcessNext(ctx, w.q, w.sync, w.failed) {
	}
}

// ProcessNext takes one key from q, waiting for one, and handles it as a
// worker does (a nil failed logs and retries); tests step controllers
// with it. It returns false once q has shut down or ctx ended.
func ProcessNext[T comparable](ctx context.Context, q workqueue.TypedRateLimitingInterface[T], sync Sync[T], failed Failed[T]) bool {
	if failed == nil {
		failed = logAndRetry[T]
	}
	key, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(key)
	if ctx.Err() != nil {
		return false
	}
	err := sync(ctx, key)
	if err != nil && failed(ctx, key, err) {
		q.AddRateLimited(key)
		return true
	}
	q.Forget(key)
	return true
}
