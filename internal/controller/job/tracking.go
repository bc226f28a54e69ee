package job

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"
)

// maxUncountedPods caps the uncounted UIDs recorded in one sync, keeping
// the status object small.
const maxUncountedPods = 500

// trackPlan is the finalizer-tracking decision: the status (already
// updated in s.job) must be written if needsFlush, and only then may the
// finalizers of rmFinalizers be removed.
type trackPlan struct {
	rmFinalizers []*corev1.Pod
	needsFlush   bool
	reachedMax   bool
}

// planTracking records newly finished pods in uncountedTerminatedPods (or
// completedIndexes), adds the interim condition, and turns s.finished
// into the terminal condition to add once everything is counted.
func planTracking(s *syncState, needsFlush bool) trackPlan {
	job := s.job
	st := &job.Status
	plan := trackPlan{needsFlush: needsFlush}
	finishing := s.finished != nil || job.DeletionTimestamp != nil
	succeeding := s.finished != nil && (s.finished.Type == batchv1.JobSuccessCriteriaMet || s.finished.Type == batchv1.JobComplete)
	var newIdx []int
	for _, p := range s.pods {
		uid := string(p.UID)
		if !hasTrackingFinalizer(p) || s.expectedRm.Has(uid) {
			continue
		}
		ix := completionIndex(p)
		if s.finished == nil && perIndexLimit(job) && ix != noIndex && s.delayed[ix] == p {
			continue
		}
		failed := isPodFailed(p, job)
		if succeeding && p.Status.Phase != corev1.PodFailed {
			// Pods removed because the Job succeeded are not failures.
			failed = false
		}
		if isTerminal(p) || failed || finishing {
			plan.rmFinalizers = append(plan.rmFinalizers, p)
		}
		switch {
		case p.Status.Phase == corev1.PodSucceeded && !s.uncountedFailed.Has(uid):
			if isIndexed(job) {
				if vix := validIndex(job, p); vix != noIndex && !s.succeededIdx.has(vix) {
					newIdx = append(newIdx, vix)
					plan.needsFlush = true
				}
			} else if !s.uncountedSucceeded.Has(uid) {
				st.UncountedTerminatedPods.Succeeded = append(st.UncountedTerminatedPods.Succeeded, p.UID)
				s.uncountedSucceeded.Insert(uid)
				plan.needsFlush = true
			}
		case failed || (s.finished != nil && !succeeding):
			if s.uncountedFailed.Has(uid) || (isIndexed(job) && validIndex(job, p) == noIndex) {
				break
			}
			if !matchFailurePolicy(job.Spec.PodFailurePolicy, p).countFails {
				break
			}
			st.UncountedTerminatedPods.Failed = append(st.UncountedTerminatedPods.Failed, p.UID)
			s.uncountedFailed.Insert(uid)
			plan.needsFlush = true
		}
		if len(newIdx)+len(st.UncountedTerminatedPods.Succeeded)+len(st.UncountedTerminatedPods.Failed) >= maxUncountedPods {
			plan.reachedMax = true
			break
		}
	}
	if isIndexed(job) {
		s.succeededIdx = s.succeededIdx.with(newIdx...)
		if str := s.succeededIdx.String(); str != st.CompletedIndexes {
			st.CompletedIndexes = str
			plan.needsFlush = true
		}
		st.Succeeded = int32(s.succeededIdx.total())
	}
	if perIndexLimit(job) {
		if str := s.failedIdx.String(); st.FailedIndexes == nil || *st.FailedIndexes != str {
			st.FailedIndexes = ptr.To(str)
			plan.needsFlush = true
		}
	}
	if s.finished != nil {
		switch s.finished.Type {
		case batchv1.JobFailureTarget:
			st.Conditions = append(st.Conditions, *s.finished)
			plan.needsFlush = true
			s.finished = newCondition(batchv1.JobFailed, corev1.ConditionTrue, s.finished.Reason, s.finished.Message, s.now)
		case batchv1.JobSuccessCriteriaMet:
			if !hasTrueCondition(job, batchv1.JobSuccessCriteriaMet) {
				st.Conditions = append(st.Conditions, *s.finished)
				plan.needsFlush = true
			}
			s.finished = newCondition(batchv1.JobComplete, corev1.ConditionTrue, s.finished.Reason, s.finished.Message, s.now)
		}
	}
	return plan
}

// countUncounted moves UIDs whose pods no longer hold the finalizer from
// the uncounted lists into succeeded/failed; reports whether it did.
func countUncounted(st *batchv1.JobStatus, withFinalizer sets.Set[string]) bool {
	u := st.UncountedTerminatedPods
	if u == nil {
		return false
	}
	var changed bool
	u.Succeeded, changed = drain(u.Succeeded, withFinalizer, &st.Succeeded)
	var changedF bool
	u.Failed, changedF = drain(u.Failed, withFinalizer, &st.Failed)
	return changed || changedF
}

func drain(uids []types.UID, withFinalizer sets.Set[string], counter *int32) ([]types.UID, bool) {
	var keep []types.UID
	for _, uid := range uids {
		if withFinalizer.Has(string(uid)) {
			keep = append(keep, uid)
		} else {
			*counter++
		}
	}
	return keep, len(keep) != len(uids)
}

// enactFinished adds the terminal condition when nothing is left
// uncounted and no pod is terminating.
func enactFinished(s *syncState) bool {
	if s.finished == nil {
		return false
	}
	st := &s.job.Status
	if u := st.UncountedTerminatedPods; u != nil && len(u.Succeeded)+len(u.Failed) > 0 {
		return false
	}
	if ptr.Deref(st.Terminating, 0) > 0 {
		return false
	}
	st.Conditions, _ = ensureCondition(st.Conditions, s.finished.Type, s.finished.Status, s.finished.Reason, s.finished.Message, s.now)
	if s.finished.Type == batchv1.JobComplete {
		c := findCondition(st.Conditions, batchv1.JobComplete)
		t := c.LastTransitionTime
		st.CompletionTime = &t
	}
	return true
}
