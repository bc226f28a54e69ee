package job

import (
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// A settled pod is terminal and no longer holds the tracking finalizer:
// it was counted (or will never be). Nothing in a sync reads such a pod
// except two things, so a sync reads only the unsettled pods unless one
// of them may apply:
//   - the pod no longer matches the selector and the Job is not being
//     deleted: it must be released;
//   - the pod failed and matches a FailJob rule: the Job fails, even when
//     the pod was counted in a sync that could not add FailureTarget
//     (active pods left or expectations pending).
//
// Everything else (active, ready, terminating, newly finished, indexes,
// per-index failure counts and delays, backoff, finalizer removal) reads
// only unsettled pods; the rest comes from the Job status.
func isSettled(pod *corev1.Pod) bool {
	return isTerminal(pod) && !hasTrackingFinalizer(pod)
}

// settledPodMatters says whether a settled pod in the Job's namespace,
// whose labels match the selector or not, would change what a sync does.
func settledPodMatters(matches, jobDeleting bool, policy *batchv1.PodFailurePolicy, pod *corev1.Pod) bool {
	if !matches {
		return !jobDeleting
	}
	return policy != nil && pod.Status.Phase == corev1.PodFailed &&
		matchFailurePolicy(policy, pod).is(batchv1.PodFailurePolicyActionFailJob)
}

// unsettledIndex maps a controlled pod that is not settled to its
// controller's UID. A long-running Job can have thousands of settled pods;
// the common sync reads this index and never sees them.
const unsettledIndex = "job-controller/owner-unsettled"

func indexUnsettledByOwner(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || isSettled(pod) {
		return nil, nil
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		return []string{string(ref.UID)}, nil
	}
	return nil, nil
}

// podScans decides, per Job, whether a sync may read only the unsettled
// pods. A Job is clean after a scan of all its pods found no settled pod
// that matters and no pod event since showed one. Pod events reach
// noteSettled after the informer store holds the change, so a sync that
// reads the store before the event is handled either sees the pod or is
// invalidated by the epoch bump.
type podScans struct {
	mu    sync.Mutex
	jobs  map[types.UID]*scanEntry
	byKey map[string]types.UID
}

type scanEntry struct {
	ns     string
	sel    labels.Selector
	policy *batchv1.PodFailurePolicy // immutable, like the selector
	// deleting is set once a sync saw the Job being deleted: it
	// releases nothing from then on.
	deleting bool
	epoch    uint64 // bumped by every event that matters
	clean    bool
}

func newPodScans() *podScans {
	return &podScans{jobs: map[types.UID]*scanEntry{}, byKey: map[string]types.UID{}}
}

// begin returns whether this sync must read all pods, and the epoch to
// hand to scanned. A Job not seen since the controller started (or
// recreated under the same name) always needs a full scan.
func (s *podScans) begin(key string, job *batchv1.Job, sel labels.Selector) (full bool, epoch uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.jobs[job.UID]
	if e == nil {
		if old, ok := s.byKey[key]; ok {
			delete(s.jobs, old)
		}
		e = &scanEntry{ns: job.Namespace, sel: sel, policy: job.Spec.PodFailurePolicy}
		s.jobs[job.UID] = e
		s.byKey[key] = job.UID
	}
	e.deleting = e.deleting || job.DeletionTimestamp != nil
	return !e.clean, e.epoch
}

// scanned records a full scan that found nothing needing it again,
// unless an event since begin made it stale.
func (s *podScans) scanned(uid types.UID, epoch uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.jobs[uid]; e != nil && e.epoch == epoch {
		e.clean = true
	}
}

// noteSettled is called with every added or changed pod: a settled pod
// that matters sends its Job back to full scans.
func (s *podScans) noteSettled(pod *corev1.Pod) {
	if !isSettled(pod) {
		return
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.jobs[ref.UID]
	if e == nil || e.ns != pod.Namespace {
		return
	}
	if settledPodMatters(e.sel.Matches(labels.Set(pod.Labels)), e.deleting, e.policy, pod) {
		e.epoch++
		e.clean = false
	}
}

// isClean reports whether the Job's next sync would skip settled pods.
func (s *podScans) isClean(uid types.UID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.jobs[uid]
	return e != nil && e.clean
}

func (s *podScans) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if uid, ok := s.byKey[key]; ok {
		delete(s.jobs, uid)
		delete(s.byKey, key)
	}
}
