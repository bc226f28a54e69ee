package cronjob

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// sync reconciles one CronJob and returns when to look at it again (nil:
// only on the next change).
func (c *Controller) sync(ctx context.Context, key string) (*time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil, fmt.Errorf("splitting key %q: %w", key, err)
	}
	cached, err := c.cronJobLister.CronJobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("getting cronjob %s from cache: %w", key, err)
	}
	jobs, err := c.jobsOf(cached)
	if err != nil {
		return nil, err
	}
	cj := cached.DeepCopy()
	changed := c.cleanupFinishedJobs(ctx, cj, jobs)
	requeue, changedBySync, syncErr := c.syncCronJob(ctx, cj, jobs)
	if changed || changedBySync {
		if _, err := c.client.BatchV1().CronJobs(cj.Namespace).UpdateStatus(ctx, cj, metav1.UpdateOptions{}); err != nil {
			return nil, fmt.Errorf("updating status of cronjob %s: %w", key, err)
		}
	}
	if requeue != nil {
		return requeue, nil
	}
	return nil, syncErr
}

// jobsOf lists the Jobs whose controller reference names the CronJob (the
// UID is not compared, as upstream: a recreated CronJob of the same name
// sees the Jobs of its predecessor until the garbage collector removes
// them).
func (c *Controller) jobsOf(cj *batchv1.CronJob) ([]*batchv1.Job, error) {
	objs, err := c.jobIndexer.ByIndex(jobOwnerIndex, cj.Namespace+"/"+cj.Name)
	if err != nil {
		return nil, fmt.Errorf("listing jobs of cronjob %s/%s: %w", cj.Namespace, cj.Name, err)
	}
	jobs := make([]*batchv1.Job, 0, len(objs))
	for _, o := range objs {
		if j, ok := o.(*batchv1.Job); ok {
			jobs = append(jobs, j)
		}
	}
	return jobs, nil
}

// cleanupFinishedJobs deletes finished Jobs beyond the history limits.
func (c *Controller) cleanupFinishedJobs(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) bool {
	changed := false
	for _, j := range jobsBeyondHistory(cj, jobs) {
		if c.deleteJob(ctx, cj, j) {
			changed = true
		}
	}
	return changed
}

// deleteJob deletes a Job in the background and drops it from active.
func (c *Controller) deleteJob(ctx context.Context, cj *batchv1.CronJob, j *batchv1.Job) bool {
	policy := metav1.DeletePropagationBackground
	err := c.client.BatchV1().Jobs(j.Namespace).Delete(ctx, j.Name, metav1.DeleteOptions{PropagationPolicy: &policy})
	if err != nil && !apierrors.IsNotFound(err) {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedDelete", "Deleted job: %v", err)
		return false
	}
	removeFromActive(cj, j.UID)
	c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job %v", j.Name)
	return true
}

// syncCronJob reconciles status.active with the Jobs, then starts the due
// slot if any. It returns the requeue delay and whether status changed.
func (c *Controller) syncCronJob(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) (*time.Duration, bool, error) {
	now := c.clk.Now()
	changed, err := c.reconcileActive(ctx, cj, jobs)
	if err != nil {
		return nil, changed, err
	}
	if cj.DeletionTimestamp != nil {
		return nil, changed, nil
	}
	d := decideStart(cj, now)
	for _, e := range d.events {
		c.recorder.Event(cj, e.eventType, e.reason, e.message)
	}
	if d.slot == nil {
		return d.requeue, changed, nil
	}
	if d.replace {
		for _, ref := range append([]corev1.ObjectReference(nil), cj.Status.Active...) {
			job, err := c.client.BatchV1().Jobs(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedGet", "Get job: %v", err)
				return nil, changed, fmt.Errorf("getting active job %s/%s: %w", ref.Namespace, ref.Name, err)
			}
			if !c.deleteJob(ctx, cj, job) {
				return nil, changed, fmt.Errorf("could not replace job %s/%s", job.Namespace, job.Name)
			}
			changed = true
		}
	}
	created, err := c.startJob(ctx, cj, *d.slot)
	if err != nil {
		return nil, changed, err
	}
	if created == nil {
		return d.requeue, changed, nil
	}
	cj.Status.Active = append(cj.Status.Active, jobRef(created))
	cj.Status.LastScheduleTime = &metav1.Time{Time: *d.slot}
	delay := c.requeueAfterStart(cj, now, d)
	return &delay, true, nil
}

// requeueAfterStart recomputes the wake-up with the new lastScheduleTime.
func (c *Controller) requeueAfterStart(cj *batchv1.CronJob, now time.Time, d startDecision) time.Duration {
	sched, err := parseSchedule(cj)
	if err != nil {
		return *d.requeue
	}
	return nextScheduleDelay(cj, now, sched)
}

// startJob creates the Job for slot. It returns nil without error when the
// Job already exists and needs no status change.
func (c *Controller) startJob(ctx context.Context, cj *batchv1.CronJob, slot time.Time) (*batchv1.Job, error) {
	req, err := jobFromTemplate(cj, slot)
	if err != nil {
		return nil, fmt.Errorf("building job for cronjob %s/%s: %w", cj.Namespace, cj.Name, err)
	}
	job, err := c.client.BatchV1().Jobs(cj.Namespace).Create(ctx, req, metav1.CreateOptions{})
	switch {
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil, fmt.Errorf("creating job %s: %w", req.Name, err)
	case apierrors.IsAlreadyExists(err):
		// Created by an earlier sync whose status write was lost: record it
		// in active if it is ours; otherwise leave it to its owner.
		existing, getErr := c.client.BatchV1().Jobs(cj.Namespace).Get(ctx, req.Name, metav1.GetOptions{})
		if getErr != nil {
			return nil, fmt.Errorf("getting existing job %s: %w", req.Name, getErr)
		}
		if !metav1.IsControlledBy(existing, cj) || inActive(cj, existing.UID) {
			return nil, nil
		}
		return existing, nil
	case err != nil:
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %v", err)
		return nil, fmt.Errorf("creating job %s: %w", req.Name, err)
	}
	c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulCreate", "Created job %v", job.Name)
	return job, nil
}

// reconcileActive brings status.active and lastSuccessfulTime in line with
// the Jobs: finished Jobs leave active, Jobs gone from the API leave it
// too, unfinished Jobs not listed are reported (never adopted).
func (c *Controller) reconcileActive(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) (bool, error) {
	changed := false
	children := make(map[types.UID]bool, len(jobs))
	for _, j := range jobs {
		children[j.UID] = true
		listed := inActive(cj, j.UID)
		cond, finished := finishedCondition(j)
		switch {
		case !listed && !finished:
			fresh, err := c.client.BatchV1().CronJobs(cj.Namespace).Get(ctx, cj.Name, metav1.GetOptions{})
			if err != nil {
				return changed, fmt.Errorf("getting cronjob %s/%s: %w", cj.Namespace, cj.Name, err)
			}
			if inActive(fresh, j.UID) {
				fresh.DeepCopyInto(cj)
				continue
			}
			c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnexpectedJob", "Saw a job that the controller did not create or forgot: %s", j.Name)
		case finished:
			if listed {
				removeFromActive(cj, j.UID)
				c.recorder.Eventf(cj, corev1.EventTypeNormal, "SawCompletedJob", "Saw completed job: %s, condition: %v", j.Name, cond)
				changed = true
			}
			if cond == batchv1.JobComplete && laterSuccess(cj.Status.LastSuccessfulTime, j.Status.CompletionTime) {
				cj.Status.LastSuccessfulTime = j.Status.CompletionTime.DeepCopy()
				changed = true
			}
		}
	}
	for _, ref := range append([]corev1.ObjectReference(nil), cj.Status.Active...) {
		if children[ref.UID] {
			continue
		}
		// The cache may lag behind a Job just created: ask the API.
		_, err := c.client.BatchV1().Jobs(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			c.recorder.Eventf(cj, corev1.EventTypeNormal, "MissingJob", "Active job went missing: %v", ref.Name)
			removeFromActive(cj, ref.UID)
			changed = true
		case err != nil:
			return changed, fmt.Errorf("getting active job %s/%s: %w", ref.Namespace, ref.Name, err)
		}
	}
	return changed, nil
}

func laterSuccess(current, completion *metav1.Time) bool {
	if completion == nil {
		return false
	}
	return current == nil || completion.After(current.Time)
}
