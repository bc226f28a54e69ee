package job

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// syncJob is one reconciliation of a Job: gather, decide, act.
func (c *Controller) syncJob(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	shared, err := c.jobLister.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.forget(key)
		c.backoff.remove(key)
		c.written.forget(key)
		c.scans.forget(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting job %s: %w", key, err)
	}
	shared = c.written.freshest(key, shared)
	if managedElsewhere(shared) {
		return nil
	}
	if isFinished(shared) {
		c.backoff.remove(key)
		c.scans.forget(key)
		return nil
	}
	if m := shared.Spec.CompletionMode; m != nil && *m != batchv1.NonIndexedCompletion && *m != batchv1.IndexedCompletion {
		c.recorder.Event(shared, corev1.EventTypeWarning, "UnknownCompletionMode", "Skipped Job sync because completion mode is unknown")
		return nil
	}

	// Gather. Expectations are read before the pods so that a pod created
	// after this point is never missed.
	satisfied := c.exp.satisfied(key)
	job := shared.DeepCopy()
	pods, err := c.podsForJob(ctx, key, job)
	if err != nil {
		return err
	}
	s := &syncState{
		job:        job,
		pods:       pods,
		now:        c.clk.Now(),
		expectedRm: c.exp.expectedRemovals(key),
		backoff:    c.backoff.get(key),
	}

	// Decide and act on pods.
	analyze(s)
	active, ready, terminating := int32(len(s.active)), s.ready, s.terminating
	var manageErr error
	suspendChanged := false
	if s.finished != nil {
		n, nReady, err := c.deletePods(ctx, job, s.active, false)
		if n != len(s.active) || !satisfied {
			s.finished = nil
		}
		active, ready, terminating = active-int32(n), ready-int32(nReady), terminating+int32(n)
		manageErr = err
	} else {
		managed := false
		if satisfied && job.DeletionTimestamp == nil {
			managed = true
			var d podDelta
			d, manageErr = c.manage(ctx, key, s)
			active, ready, terminating = active+d.active, ready+d.ready, terminating+d.terminating
		}
		if succeededAll(job, s.succeeded, active) {
			s.finished = newCondition(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, batchv1.JobReasonCompletionsReached, msgCompletionsReached, s.now)
		} else if managed {
			suspendChanged = c.reconcileSuspended(s)
		}
	}

	st := &job.Status
	needsFlush := suspendChanged || active != shared.Status.Active ||
		!ptr.Equal(ptr.To(ready), shared.Status.Ready) ||
		!ptr.Equal(ptr.To(terminating), shared.Status.Terminating) ||
		shared.Status.UncountedTerminatedPods == nil ||
		!ptr.Equal(st.StartTime, shared.Status.StartTime)
	st.Active, st.Ready, st.Terminating = active, ptr.To(ready), ptr.To(terminating)

	err = c.trackStatus(ctx, key, s, needsFlush)
	if s.requeue > 0 {
		c.queue.AddAfter(key, s.requeue)
	}
	if err != nil {
		return err
	}
	return manageErr
}

func managedElsewhere(job *batchv1.Job) bool {
	return job.Spec.ManagedBy != nil && *job.Spec.ManagedBy != batchv1.JobControllerName
}

// succeededAll is the completion test: a work queue is done when a pod
// succeeded and none runs; otherwise when completions are reached.
func succeededAll(job *batchv1.Job, succeeded, active int32) bool {
	if job.Spec.Completions == nil {
		return succeeded > 0 && active == 0
	}
	return succeeded >= *job.Spec.Completions && active == 0
}

// reconcileSuspended keeps the Suspended condition in line with
// spec.suspend, emitting the event and resetting startTime on resume.
func (c *Controller) reconcileSuspended(s *syncState) bool {
	st := &s.job.Status
	var changed bool
	if suspended(s.job) {
		st.Conditions, changed = ensureCondition(st.Conditions, batchv1.JobSuspended, corev1.ConditionTrue, reasonSuspended, msgSuspended, s.now)
		if changed {
			c.recorder.Event(s.job, corev1.EventTypeNormal, "Suspended", msgSuspended)
		}
		return changed
	}
	st.Conditions, changed = ensureCondition(st.Conditions, batchv1.JobSuspended, corev1.ConditionFalse, reasonResumed, msgResumed, s.now)
	if changed {
		c.recorder.Event(s.job, corev1.EventTypeNormal, "Resumed", msgResumed)
		t := metav1.NewTime(s.now)
		st.StartTime = &t
	}
	return changed
}

// trackStatus writes newly finished pods into the status, removes their
// finalizers, moves them into the counters and, once all is counted,
// adds the terminal condition.
func (c *Controller) trackStatus(ctx context.Context, key string, s *syncState, needsFlush bool) error {
	plan := planTracking(s, needsFlush)
	if plan.needsFlush {
		if err := c.writeStatus(ctx, s); err != nil {
			return err
		}
	}
	// The new failures are in the status now: fold them into the backoff.
	c.backoff.set(key, s.newBackoff)

	withFinalizer := s.expectedRm.Clone()
	for _, p := range s.pods {
		if hasTrackingFinalizer(p) {
			withFinalizer.Insert(string(p.UID))
		}
	}
	var rmErr error
	if len(plan.rmFinalizers) > 0 {
		uids := make([]string, len(plan.rmFinalizers))
		for i, p := range plan.rmFinalizers {
			uids[i] = string(p.UID)
		}
		c.exp.expectFinalizersRemoved(key, uids)
		var ok []bool
		ok, rmErr = parallel(plan.rmFinalizers, func(p *corev1.Pod) error { return c.removeFinalizer(ctx, p) })
		for i, p := range plan.rmFinalizers {
			if ok[i] {
				withFinalizer.Delete(string(p.UID))
			} else {
				c.exp.finalizerRemovalObserved(key, string(p.UID))
			}
		}
	}
	flush := countUncounted(&s.job.Status, withFinalizer)
	if rmErr != nil {
		if flush {
			if err := c.writeStatus(ctx, s); err != nil {
				return err
			}
		}
		return rmErr
	}
	finished := !plan.reachedMax && enactFinished(s)
	if !flush && !finished {
		return nil
	}
	if err := c.writeStatus(ctx, s); err != nil {
		return err
	}
	if finished {
		c.backoff.remove(key)
		c.recordFinished(s)
	}
	return nil
}

func (c *Controller) writeStatus(ctx context.Context, s *syncState) error {
	updated, err := c.client.BatchV1().Jobs(s.job.Namespace).UpdateStatus(ctx, s.job, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("updating status of job %s/%s: %w", s.job.Namespace, s.job.Name, err)
	}
	c.written.record(s.job.Namespace+"/"+s.job.Name, updated)
	// Keep our status: the next write builds on it with the new version.
	status := s.job.Status
	s.job = updated
	s.job.Status = status
	return nil
}

func (c *Controller) recordFinished(s *syncState) {
	job, cond := s.job, s.finished
	if cond.Type == batchv1.JobComplete {
		c.recorder.Event(job, corev1.EventTypeNormal, "Completed", "Job completed")
		if !isIndexed(job) && job.Spec.Completions != nil && job.Status.Succeeded > *job.Spec.Completions {
			c.recorder.Event(job, corev1.EventTypeWarning, "TooManySucceededPods", "Too many succeeded pods running after completion count reached")
		}
		return
	}
	c.recorder.Event(job, corev1.EventTypeWarning, cond.Reason, cond.Message)
}

// podDelta is how a manage step changed the active, ready and
// terminating counts.
type podDelta struct{ active, ready, terminating int32 }

// manage creates or deletes pods as planPods decided.
func (c *Controller) manage(ctx context.Context, key string, s *syncState) (podDelta, error) {
	plan := planPods(s)
	if len(plan.remove) > 0 {
		c.exp.expect(key, 0, len(plan.remove))
		n, nReady, err := c.deletePods(ctx, s.job, plan.remove, true)
		for i := n; i < len(plan.remove); i++ {
			c.exp.deletionObserved(key)
		}
		return podDelta{active: -int32(n), ready: -int32(nReady), terminating: int32(n)}, err
	}
	if plan.create == 0 {
		return podDelta{}, nil
	}
	c.exp.expect(key, plan.create, 0)
	n, err := c.createPods(ctx, key, s, plan)
	return podDelta{active: int32(n)}, err
}

// createBatchStart is the first slow-start batch. Upstream starts at 1;
// each doubling is a sequential API round trip inside the sync, and a
// Job replacing tens of pods per sync would spend most of the sync in
// them. 16 still bounds the failed creates a sync makes when creation is
// refused (quota, admission).
const createBatchStart = 16

// createPods creates in slow-start batches of 16, 32, 64, ...; a failure
// in a batch skips the rest, to be retried by a later sync.
func (c *Controller) createPods(ctx context.Context, key string, s *syncState, plan podPlan) (int, error) {
	pods := make([]*corev1.Pod, plan.create)
	for i := range pods {
		ix := noIndex
		if plan.indexes != nil {
			ix = plan.indexes[i]
		}
		pods[i] = newPod(s.job, ix, s.delayed[ix])
	}
	created := 0
	for batch, start := createBatchStart, 0; start < len(pods); batch *= 2 {
		end := min(start+batch, len(pods))
		ok, err := parallel(pods[start:end], func(p *corev1.Pod) error { return c.createPod(ctx, s.job, p) })
		for _, o := range ok {
			if o {
				created++
			} else {
				c.exp.creationObserved(key)
			}
		}
		if err != nil {
			for i := end; i < len(pods); i++ {
				c.exp.creationObserved(key)
			}
			return created, err
		}
		start = end
	}
	return created, nil
}

// deletePods deletes pods; with strip the tracking finalizer is removed
// first so the pod is never counted (suspend, scale-down). It returns how
// many were deleted and how many of those were ready.
func (c *Controller) deletePods(ctx context.Context, job *batchv1.Job, pods []*corev1.Pod, strip bool) (int, int, error) {
	if len(pods) == 0 {
		return 0, 0, nil
	}
	ok, err := parallel(pods, func(p *corev1.Pod) error {
		if strip && hasTrackingFinalizer(p) {
			if err := c.removeFinalizer(ctx, p); err != nil {
				return err
			}
		}
		return c.deletePod(ctx, job, p)
	})
	n, nReady := 0, 0
	for i, o := range ok {
		if o {
			n++
			if isReady(pods[i]) {
				nReady++
			}
		}
	}
	return n, nReady, err
}
