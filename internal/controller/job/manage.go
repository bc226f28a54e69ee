package job

import (
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"
)

// maxPodChangesPerSync caps creations or deletions in one sync.
const maxPodChangesPerSync = 500

// podPlan is what manageJob decided: pods to remove (finalizer stripped
// first, so they are never counted), or pods to create. A plan never
// holds both: deletion wins.
type podPlan struct {
	remove  []*corev1.Pod
	create  int
	indexes []int // Indexed: the index of each pod to create
}

// wantActive is how many pods should run now.
func wantActive(job *batchv1.Job, active, succeeded int32) int32 {
	parallelism := ptr.Deref(job.Spec.Parallelism, 1)
	if job.Spec.Completions == nil {
		if succeeded > 0 {
			return active
		}
		return parallelism
	}
	return max(0, min(*job.Spec.Completions-succeeded, parallelism))
}

// planPods is manageJob's decision for a running Job.
func planPods(s *syncState) podPlan {
	job := s.job
	active := int32(len(s.active))
	if suspended(job) {
		return podPlan{remove: podsForRemoval(job, s.active, len(s.active))}
	}
	want := wantActive(job, active, s.succeeded)
	rm := podsForRemoval(job, s.active, int(max(0, active-want)))
	if len(rm) > maxPodChangesPerSync {
		rm = rm[:maxPodChangesPerSync]
	}
	if len(rm) > 0 {
		return podPlan{remove: rm}
	}
	var terminating int32
	if onlyReplaceFailed(job) {
		terminating = s.terminating
	}
	diff := int(want - terminating - active)
	if diff <= 0 {
		return podPlan{}
	}
	if !perIndexLimit(job) {
		if d := s.newBackoff.remaining(s.now); d > 0 {
			s.requeueAfter(d)
			return podPlan{}
		}
	}
	diff = min(diff, maxPodChangesPerSync)
	if !isIndexed(job) {
		return podPlan{create: diff}
	}
	idx := s.pendingIndexes(diff)
	if perIndexLimit(job) {
		var wait time.Duration
		idx, wait = s.readyIndexes(idx)
		if wait > 0 {
			s.requeueAfter(wait)
		}
	}
	return podPlan{create: len(idx), indexes: idx}
}

// pendingIndexes picks the lowest indexes that are neither succeeded,
// failed, running, nor (under podReplacementPolicy Failed) terminating.
func (s *syncState) pendingIndexes(count int) []int {
	job := s.job
	busy := sets.New[int]()
	for _, p := range s.active {
		busy.Insert(completionIndex(p))
	}
	if onlyReplaceFailed(job) {
		for _, p := range s.pods {
			if isTerminating(p) {
				busy.Insert(completionIndex(p))
			}
		}
	}
	var out []int
	for i := 0; i < completions(job) && len(out) < count; i++ {
		if s.succeededIdx.has(i) || s.failedIdx.has(i) || busy.Has(i) {
			continue
		}
		out = append(out, i)
	}
	return out
}

// readyIndexes drops indexes still in their per-index backoff; if none is
// ready it returns the smallest remaining delay.
func (s *syncState) readyIndexes(idx []int) ([]int, time.Duration) {
	var ready []int
	var wait time.Duration
	for _, ix := range idx {
		last := s.delayed[ix]
		d := time.Duration(0)
		if last != nil {
			d = remainingBackoff(absoluteFailureCount(last)+1, finishedTime(last), s.now)
		}
		if d == 0 {
			ready = append(ready, ix)
		} else if wait == 0 || d < wait {
			wait = d
		}
	}
	if len(ready) > 0 {
		return ready, 0
	}
	return nil, wait
}

// podsForRemoval picks at least n active pods to delete. For Indexed Jobs
// duplicates of an index and pods with no valid index always go.
func podsForRemoval(job *batchv1.Job, active []*corev1.Pod, n int) []*corev1.Pod {
	var rm, left []*corev1.Pod
	if isIndexed(job) {
		rm, left = duplicateIndexPods(job, active)
	} else {
		left = append(left, active...)
	}
	if len(rm) >= n {
		return rm
	}
	sort.SliceStable(left, func(i, j int) bool { return lessProgressed(left[i], left[j]) })
	return append(rm, left[:min(len(left), n-len(rm))]...)
}

// duplicateIndexPods splits pods into those to delete (invalid index, or
// a second pod for an index) and the rest; per index the most progressed
// pod is kept.
func duplicateIndexPods(job *batchv1.Job, pods []*corev1.Pod) (rm, keep []*corev1.Pod) {
	byIndex := map[int]*corev1.Pod{}
	for _, p := range pods {
		ix := validIndex(job, p)
		if ix == noIndex {
			rm = append(rm, p)
			continue
		}
		cur, ok := byIndex[ix]
		if !ok {
			byIndex[ix] = p
			continue
		}
		if lessProgressed(cur, p) {
			rm = append(rm, cur)
			byIndex[ix] = p
		} else {
			rm = append(rm, p)
		}
	}
	for _, p := range pods {
		if ix := validIndex(job, p); ix != noIndex && byIndex[ix] == p {
			keep = append(keep, p)
		}
	}
	return rm, keep
}

var phaseRank = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// lessProgressed orders pods for deletion: unscheduled, earlier phase,
// not ready, more recently ready, more restarts, newer.
func lessProgressed(a, b *corev1.Pod) bool {
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	if ra, rb := phaseRank[a.Status.Phase], phaseRank[b.Status.Phase]; ra != rb {
		return ra < rb
	}
	if isReady(a) != isReady(b) {
		return !isReady(a)
	}
	if isReady(a) {
		ta, tb := readyTime(a), readyTime(b)
		if !ta.Equal(tb) {
			return ta.After(tb)
		}
	}
	if ca, cb := restartCount(a), restartCount(b); ca != cb {
		return ca > cb
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.After(b.CreationTimestamp.Time)
	}
	return a.Name < b.Name
}

func readyTime(p *corev1.Pod) time.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}
