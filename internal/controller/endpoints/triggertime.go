package endpoints

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// triggerTracker computes the endpoints.kubernetes.io/last-change-trigger-time
// annotation: the earliest time among the changes (pod readiness
// transitions, Service creation) that the current sync is the first to
// see. A Service seen for the first time reports its creation time.
type triggerTracker struct {
	mu     sync.Mutex
	states map[string]triggerState
}

type triggerState struct {
	pods    map[string]time.Time
	service time.Time
}

func newTriggerTracker() *triggerTracker {
	return &triggerTracker{states: map[string]triggerState{}}
}

// compute records the trigger times seen now for key and returns the
// annotation value's time (zero when nothing changed).
func (t *triggerTracker) compute(key string, svc *corev1.Service, pods []*corev1.Pod) time.Time {
	t.mu.Lock()
	prev, known := t.states[key]
	t.mu.Unlock()

	var earliest time.Time
	consider := func(ts time.Time) {
		if earliest.IsZero() || ts.Before(earliest) {
			earliest = ts
		}
	}
	next := triggerState{pods: make(map[string]time.Time, len(pods)), service: svc.CreationTimestamp.Time}
	for _, pod := range pods {
		ts := readyTransition(pod)
		if ts.IsZero() {
			continue
		}
		next.pods[pod.Name] = ts
		if ts.After(prev.pods[pod.Name]) {
			consider(ts)
		}
	}
	if next.service.After(prev.service) {
		consider(next.service)
	}
	t.mu.Lock()
	t.states[key] = next
	t.mu.Unlock()
	if !known {
		return svc.CreationTimestamp.Time
	}
	return earliest
}

func (t *triggerTracker) forget(key string) {
	t.mu.Lock()
	delete(t.states, key)
	t.mu.Unlock()
}

func readyTransition(pod *corev1.Pod) time.Time {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}
