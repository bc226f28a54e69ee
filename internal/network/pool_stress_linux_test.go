//go:build linux

package network

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentPodsLeaveNothingAfterClose: pods starting and finishing
// in parallel, as on a busy node, leave no namespace mounted, parked or
// not, once the last is done and the manager closed.
func TestConcurrentPodsLeaveNothingAfterClose(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	m, err := New(Config{StateDir: dir, PoolSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 15; i++ {
				k := fmt.Sprintf("w%d-%d", w, i)
				if _, err := m.Setup(k); err != nil {
					errs <- err
					return
				}
				done := m.Park
				if i%3 == 0 {
					done = m.Teardown
				}
				if err := done(k); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if keys := m.Keys(); len(keys) != 0 {
		t.Fatalf("Keys() = %v after every pod finished", keys)
	}
	nsDir := m.nsDir
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), nsDir) {
		t.Fatalf("namespaces still mounted under %s", nsDir)
	}
	if recs := addressRecords(t, dir); len(recs) != 0 {
		t.Fatalf("address records %v left", recs)
	}
}
