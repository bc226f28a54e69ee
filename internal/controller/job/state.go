package job

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"
)

// syncState is the snapshot one sync decides on, and what the decisions
// derive from it. Only job.Status is mutated.
type syncState struct {
	// Gathered.
	job        *batchv1.Job
	pods       []*corev1.Pod
	now        time.Time
	expectedRm sets.Set[string]
	backoff    backoffRecord

	// Derived by analyze.
	active             []*corev1.Pod
	ready, terminating int32
	uncountedSucceeded sets.Set[string]
	uncountedFailed    sets.Set[string]
	newSucceeded       []*corev1.Pod
	newFailed          []*corev1.Pod
	succeeded, failed  int32
	succeededIdx       intervals
	failedIdx          intervals
	// delayed holds, per index, the last failed pod whose finalizer is kept
	// until its replacement exists (backoffLimitPerIndex).
	delayed    map[int]*corev1.Pod
	newBackoff backoffRecord
	finished   *batchv1.JobCondition
	// requeue is the earliest time-based resync wanted (0: none).
	requeue time.Duration
}

func suspended(job *batchv1.Job) bool { return ptr.Deref(job.Spec.Suspend, false) }

func perIndexLimit(job *batchv1.Job) bool {
	return isIndexed(job) && job.Spec.BackoffLimitPerIndex != nil
}

func (s *syncState) requeueAfter(d time.Duration) {
	if d < time.Second {
		d = time.Second
	}
	if s.requeue == 0 || d < s.requeue {
		s.requeue = d
	}
}

// analyze derives counts, newly finished pods, the backoff record and the
// condition that finishes the Job, if any, in upstream's order.
func analyze(s *syncState) {
	job := s.job
	if job.Status.UncountedTerminatedPods == nil {
		job.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	for _, p := range s.pods {
		switch {
		case isActive(p):
			s.active = append(s.active, p)
			if isReady(p) {
				s.ready++
			}
		case isTerminating(p):
			s.terminating++
		}
	}
	u := job.Status.UncountedTerminatedPods
	s.uncountedSucceeded = uidSet(u.Succeeded)
	s.uncountedFailed = uidSet(u.Failed)
	s.newSucceeded = s.newFinished(s.uncountedSucceeded, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	s.newFailed = s.newFinished(s.uncountedFailed, func(p *corev1.Pod) bool { return isPodFailed(p, job) })
	s.succeeded = job.Status.Succeeded + int32(len(s.newSucceeded)) + int32(s.uncountedSucceeded.Len())
	s.failed = job.Status.Failed + int32(countedFailures(job, s.newFailed)) + int32(s.uncountedFailed.Len())

	if job.Status.StartTime == nil && !suspended(job) {
		t := metav1.NewTime(s.now)
		job.Status.StartTime = &t
	}
	s.newBackoff = s.backoff.next(s.newSucceeded, s.newFailed)
	s.finished = s.finishCondition()
}

func uidSet[T ~string](uids []T) sets.Set[string] {
	out := sets.New[string]()
	for _, u := range uids {
		out.Insert(string(u))
	}
	return out
}

// newFinished lists tracked pods passing filter that are not yet in the
// uncounted list nor already handed over for finalizer removal.
func (s *syncState) newFinished(uncounted sets.Set[string], filter func(*corev1.Pod) bool) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range s.pods {
		uid := string(p.UID)
		if !hasTrackingFinalizer(p) || uncounted.Has(uid) || s.expectedRm.Has(uid) {
			continue
		}
		if isIndexed(s.job) && validIndex(s.job, p) == noIndex {
			continue
		}
		if filter(p) {
			out = append(out, p)
		}
	}
	return out
}

// countedFailures leaves out failures matched by an Ignore rule.
func countedFailures(job *batchv1.Job, pods []*corev1.Pod) int {
	n := 0
	for _, p := range pods {
		if matchFailurePolicy(job.Spec.PodFailurePolicy, p).countFails {
			n++
		}
	}
	return n
}

// finishCondition picks the condition finishing the Job; first hit wins.
func (s *syncState) finishCondition() *batchv1.JobCondition {
	job := s.job
	if c := findCondition(job.Status.Conditions, batchv1.JobSuccessCriteriaMet); c != nil && c.Status == corev1.ConditionTrue {
		cc := *c
		s.indexedCounts()
		return &cc
	}
	if c := findCondition(job.Status.Conditions, batchv1.JobFailureTarget); c != nil && c.Status == corev1.ConditionTrue {
		s.indexedCounts()
		return newCondition(batchv1.JobFailed, corev1.ConditionTrue, c.Reason, c.Message, s.now)
	}
	var cond *batchv1.JobCondition
	if msg, ok := failJobMessage(job, s.pods); ok {
		cond = failureTarget(batchv1.JobReasonPodFailurePolicy, msg, s.now)
	} else if s.failed > ptr.Deref(job.Spec.BackoffLimit, 6) || pastBackoffLimitOnFailure(job, s.pods) {
		cond = failureTarget(batchv1.JobReasonBackoffLimitExceeded, msgBackoffLimit, s.now)
	} else if s.pastDeadline() {
		cond = failureTarget(batchv1.JobReasonDeadlineExceeded, msgDeadline, s.now)
	} else if job.Spec.ActiveDeadlineSeconds != nil && !suspended(job) && job.Status.StartTime != nil {
		s.requeueAfter(time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second - s.now.Sub(job.Status.StartTime.Time))
	}
	s.indexedCounts()
	if !isIndexed(job) {
		return cond
	}
	if cond == nil && perIndexLimit(job) {
		total := s.failedIdx.total()
		if job.Spec.MaxFailedIndexes != nil && total > int(*job.Spec.MaxFailedIndexes) {
			cond = failureTarget(batchv1.JobReasonMaxFailedIndexesExceeded, msgMaxFailedIndexes, s.now)
		} else if total > 0 && total+s.succeededIdx.total() >= completions(job) {
			cond = failureTarget(batchv1.JobReasonFailedIndexes, msgFailedIndexes, s.now)
		}
	}
	if cond == nil {
		if msg, ok := matchSuccessPolicy(job.Spec.SuccessPolicy, completions(job), s.succeededIdx); ok {
			cond = newCondition(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, batchv1.JobReasonSuccessPolicy, msg, s.now)
		}
	}
	return cond
}

func (s *syncState) pastDeadline() bool {
	job := s.job
	if job.Spec.ActiveDeadlineSeconds == nil || job.Status.StartTime == nil || suspended(job) {
		return false
	}
	return s.now.Sub(job.Status.StartTime.Time) >= time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second
}

// pastBackoffLimitOnFailure counts in-place container restarts of live
// pods against backoffLimit when restartPolicy is OnFailure.
func pastBackoffLimitOnFailure(job *batchv1.Job, pods []*corev1.Pod) bool {
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var n int32
	for _, p := range pods {
		if p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodPending {
			n += restartCount(p)
		}
	}
	limit := ptr.Deref(job.Spec.BackoffLimit, 6)
	if limit == 0 {
		return n > 0
	}
	return n >= limit
}

// indexedCounts computes succeeded and failed indexes of an Indexed Job.
func (s *syncState) indexedCounts() {
	job := s.job
	if !isIndexed(job) || s.succeededIdx != nil {
		return
	}
	n := completions(job)
	s.succeededIdx = parseIntervals(job.Status.CompletedIndexes, n)
	var added []int
	for _, p := range s.pods {
		if p.Status.Phase == corev1.PodSucceeded && hasTrackingFinalizer(p) {
			if ix := validIndex(job, p); ix != noIndex {
				added = append(added, ix)
			}
		}
	}
	s.succeededIdx = s.succeededIdx.with(added...)
	if s.succeededIdx == nil {
		s.succeededIdx = intervals{}
	}
	s.succeeded = int32(s.succeededIdx.total())
	if !perIndexLimit(job) {
		return
	}
	s.failedIdx = parseIntervals(ptr.Deref(job.Status.FailedIndexes, ""), n)
	var failed []int
	for _, p := range s.pods {
		if !hasTrackingFinalizer(p) || s.expectedRm.Has(string(p.UID)) {
			continue
		}
		if ix := validIndex(job, p); ix != noIndex && !s.succeededIdx.has(ix) && isIndexFailed(job, p) {
			failed = append(failed, ix)
		}
	}
	s.failedIdx = s.failedIdx.with(failed...)
	s.delayed = s.delayedPerIndex()
}

// isIndexFailed: the pod's failure makes its index fail, by a FailIndex
// rule or by reaching backoffLimitPerIndex.
func isIndexFailed(job *batchv1.Job, pod *corev1.Pod) bool {
	if !isPodFailed(pod, job) {
		return false
	}
	m := matchFailurePolicy(job.Spec.PodFailurePolicy, pod)
	if m.is(batchv1.PodFailurePolicyActionFailIndex) {
		return true
	}
	return m.countFails && indexFailureCount(pod) >= *job.Spec.BackoffLimitPerIndex
}

func absoluteFailureCount(pod *corev1.Pod) int32 {
	return indexFailureCount(pod) + indexIgnoredFailureCount(pod)
}

func (s *syncState) delayedPerIndex() map[int]*corev1.Pod {
	activeIdx := sets.New[int]()
	for _, p := range s.active {
		activeIdx.Insert(completionIndex(p))
	}
	out := map[int]*corev1.Pod{}
	for _, p := range s.pods {
		if !hasTrackingFinalizer(p) || s.expectedRm.Has(string(p.UID)) || !isPodFailed(p, s.job) {
			continue
		}
		ix := validIndex(s.job, p)
		if ix == noIndex || s.succeededIdx.has(ix) || s.failedIdx.has(ix) || activeIdx.Has(ix) {
			continue
		}
		if last, ok := out[ix]; ok {
			if absoluteFailureCount(last) > absoluteFailureCount(p) || finishedTime(p).Before(finishedTime(last)) {
				continue
			}
		}
		out[ix] = p
	}
	return out
}
