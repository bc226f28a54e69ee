package testutil

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/watch"
)

// NextEvent waits up to timeout for w's next event; the test fails if the
// watch closes or nothing comes.
func NextEvent(t testing.TB, w watch.Interface, timeout time.Duration) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed")
		}
		return ev
	case <-time.After(timeout):
		t.Fatalf("no watch event within %s", timeout)
	}
	return watch.Event{}
}
