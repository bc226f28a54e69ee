package job

import (
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Pod failure backoff. The delay before re-creating pods after n
// consecutive failures is min(10s × 2^(n−1), 6m): the cap the Kubernetes
// documentation states and users read. Upstream's controller code today
// caps it at ten minutes (MaxJobPodFailureBackOff); docs/README.md says so.
const (
	defaultBackoff = 10 * time.Second
	maxBackoff     = 6 * time.Minute
)

// backoffRecord tracks consecutive failures since the last success.
type backoffRecord struct {
	failuresAfterLastSuccess int32
	lastFailureTime          *time.Time
}

// next folds newly finished pods into the record: with no new success the
// failures add up; a new success resets the count to the failures that
// finished after it.
func (r backoffRecord) next(newSucceeded, newFailed []*corev1.Pod) backoffRecord {
	if len(newFailed) == 0 && len(newSucceeded) == 0 {
		return r
	}
	sortByFinished(newSucceeded)
	sortByFinished(newFailed)
	if len(newSucceeded) == 0 {
		t := finishedTime(newFailed[len(newFailed)-1])
		return backoffRecord{r.failuresAfterLastSuccess + int32(len(newFailed)), &t}
	}
	out := backoffRecord{}
	lastSuccess := finishedTime(newSucceeded[len(newSucceeded)-1])
	for i := len(newFailed) - 1; i >= 0; i-- {
		t := finishedTime(newFailed[i])
		if !t.After(lastSuccess) {
			break
		}
		if out.lastFailureTime == nil {
			out.lastFailureTime = &t
		}
		out.failuresAfterLastSuccess++
	}
	return out
}

func (r backoffRecord) remaining(now time.Time) time.Duration {
	if r.lastFailureTime == nil {
		return 0
	}
	return remainingBackoff(r.failuresAfterLastSuccess, *r.lastFailureTime, now)
}

// backoffDelay is the delay after n consecutive failures.
func backoffDelay(n int32) time.Duration {
	if n <= 0 {
		return 0
	}
	d := defaultBackoff
	for i := int32(1); i < n; i++ {
		d *= 2
		if d >= maxBackoff {
			return maxBackoff
		}
	}
	return d
}

func remainingBackoff(n int32, lastFailure, now time.Time) time.Duration {
	d := backoffDelay(n) - now.Sub(lastFailure)
	if d < 0 {
		return 0
	}
	return d
}

func sortByFinished(pods []*corev1.Pod) {
	sort.SliceStable(pods, func(i, j int) bool { return finishedTime(pods[i]).Before(finishedTime(pods[j])) })
}

// backoffStore keeps records per Job key in memory; like upstream, they
// are lost when the controller restarts.
type backoffStore struct {
	mu      sync.Mutex
	records map[string]backoffRecord
}

func newBackoffStore() *backoffStore {
	return &backoffStore{records: map[string]backoffRecord{}}
}

func (s *backoffStore) get(key string) backoffRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records[key]
}

func (s *backoffStore) set(key string, r backoffRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[key] = r
}

func (s *backoffStore) remove(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, key)
}
