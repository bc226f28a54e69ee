package etcd3

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// Run with: go test -run '^$' -bench . ./internal/storage/etcd3/

var benchSeq atomic.Int64

// runWorkers runs op b.N times in total across exactly workers goroutines.
func runWorkers(b *testing.B, workers int, op func() error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkCreate(b *testing.B) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("goroutines=%d", workers), func(b *testing.B) {
			s := newTestStore(b)
			ctx := testCtx(b)
			prefix := testPrefix(b)
			runWorkers(b, workers, func() error {
				name := fmt.Sprintf("cm-%d", benchSeq.Add(1))
				_, err := s.Create(ctx, prefix+name, configMap(name, map[string]string{"k": "v"}))
				return err
			})
		})
	}
}

func BenchmarkGet(b *testing.B) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("goroutines=%d", workers), func(b *testing.B) {
			s := newTestStore(b)
			ctx := testCtx(b)
			key := testPrefix(b) + "cm"
			if _, err := s.Get(ctx, key); err != nil {
				mustCreate(b, s, key, configMap("cm", map[string]string{"k": "v"}))
			}
			runWorkers(b, workers, func() error {
				_, err := s.Get(ctx, key)
				return err
			})
		})
	}
}
