package workqueue_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/batchlet/batchlet/pkg/workqueue"
	"github.com/batchlet/batchlet/pkg/workqueue/redistest"
)

// BenchmarkDrain measures lease+complete throughput: 8 workers, each with
// its own connection, drain 10,000 trivial items from a real Redis.
func BenchmarkDrain(b *testing.B) {
	const items, parallelism = 10000, 8
	srv := redistest.Start(b)
	ctx := context.Background()
	producer := newQueue(b, srv.Addr, "bench")
	workers := make([]*workqueue.Queue, parallelism)
	for i := range workers {
		workers[i] = newQueue(b, srv.Addr, "bench")
	}
	batch := make([][]byte, items)
	for i := range batch {
		batch[i] = []byte("item-" + strconv.Itoa(i))
	}
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		if _, err := producer.Add(ctx, batch...); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		var done atomic.Int64
		var wg sync.WaitGroup
		for _, q := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					item, err := q.Lease(ctx, time.Minute, 0)
					if err != nil {
						b.Error(err)
						return
					}
					if item == nil {
						return
					}
					if err := q.Complete(ctx, item); err != nil {
						b.Error(err)
						return
					}
					done.Add(1)
				}
			}()
		}
		wg.Wait()
		total += time.Since(start)
		if done.Load() != items {
			b.Fatalf("processed %d items, want %d", done.Load(), items)
		}
	}
	b.ReportMetric(float64(items*b.N)/total.Seconds(), "items/s")
}
