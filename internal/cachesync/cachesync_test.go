package cachesync

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitReturnsOnceAllSynced(t *testing.T) {
	var a, b atomic.Bool
	done := make(chan bool)
	go func() { done <- Wait(context.Background(), a.Load, b.Load) }()
	a.Store(true)
	select {
	case <-done:
		t.Fatal("returned with one cache still unsynced")
	case <-time.After(20 * pollInterval):
	}
	b.Store(true)
	if !<-done {
		t.Fatal("Wait reported false with every cache synced")
	}
}

func TestWaitStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	never := func() bool { return false }
	if Wait(ctx, never) {
		t.Fatal("Wait reported true for a cache that never syncs")
	}
}
