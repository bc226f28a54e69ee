// Package cachesync waits for informer caches to fill.
//
// client-go's WaitForCacheSync checks every 100 ms, so a component that
// waits for two caches in turn loses up to 200 ms to polling alone — as
// much as the whole rest of the server's start-up. Caches here fill in a
// few milliseconds (the apiserver is in the same process), so they are
// checked far more often; the check is a few atomic loads.
package cachesync

import (
	"context"
	"time"

	"k8s.io/client-go/tools/cache"
)

// pollInterval is short against a local apiserver's list latency and long
// against the cost of a check.
const pollInterval = 2 * time.Millisecond

// Wait blocks until every cache has synced (true) or ctx ends (false).
func Wait(ctx context.Context, synced ...cache.InformerSynced) bool {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		if allSynced(synced) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-ticker.C:
		}
	}
}

func allSynced(synced []cache.InformerSynced) bool {
	for _, s := range synced {
		if !s() {
			return false
		}
	}
	return true
}
