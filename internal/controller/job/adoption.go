package job

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// podsForJob returns the Job's pods: those it controls whose labels still
// match its selector, plus matching orphans it adopts. Controlled pods
// that no longer match are released. Settled pods (see settled.go) are
// left out unless one of them may matter, so that a sync costs what the
// Job's unsettled pods cost, not every pod it ever had.
func (c *Controller) podsForJob(ctx context.Context, key string, job *batchv1.Job) ([]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("job %s/%s has an invalid selector: %w", job.Namespace, job.Name, err)
	}
	full, epoch := c.scans.begin(key, job, sel)
	index := unsettledIndex
	if full {
		index = ownerIndex
	}
	owned, err := c.podIndexer.ByIndex(index, string(job.UID))
	if err != nil {
		return nil, fmt.Errorf("listing pods of job %s/%s: %w", job.Namespace, job.Name, err)
	}
	pods := make([]*corev1.Pod, 0, len(owned))
	var firstErr error
	// A full scan that met a settled pod that matters is repeated next
	// sync, as the old every-pod scan would have met it again.
	again := false
	for _, o := range owned {
		p, ok := o.(*corev1.Pod)
		if !ok || p.Namespace != job.Namespace {
			continue
		}
		matches := sel.Matches(labels.Set(p.Labels))
		if full && !again && isSettled(p) {
			again = settledPodMatters(matches, job.DeletionTimestamp != nil, job.Spec.PodFailurePolicy, p)
		}
		if matches {
			pods = append(pods, p)
			continue
		}
		// As upstream's claim: a Job being deleted releases nothing, but
		// a terminating pod is released, since the release also drops the
		// tracking finalizer its deletion waits for.
		if job.DeletionTimestamp == nil {
			if err := c.release(ctx, job, p); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	if full && !again && firstErr == nil {
		c.scans.scanned(job.UID, epoch)
	}
	if job.DeletionTimestamp != nil || sel.Empty() {
		return pods, firstErr
	}
	orphans, err := c.podIndexer.ByIndex(ownerIndex, orphanIndexKey(job.Namespace))
	if err != nil {
		return pods, firstErr
	}
	checked := false
	for _, o := range orphans {
		p, ok := o.(*corev1.Pod)
		if !ok || p.DeletionTimestamp != nil || !sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		if !checked {
			// Adopt only if the Job, read fresh, is still this one and alive.
			if err := c.canAdopt(ctx, job); err != nil {
				return pods, err
			}
			checked = true
		}
		adopted, err := c.adopt(ctx, job, p)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if adopted != nil {
			pods = append(pods, adopted)
		}
	}
	return pods, firstErr
}

func (c *Controller) canAdopt(ctx context.Context, job *batchv1.Job) error {
	fresh, err := c.client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("checking job %s/%s before adoption: %w", job.Namespace, job.Name, err)
	}
	if fresh.UID != job.UID {
		return fmt.Errorf("job %s/%s was recreated (uid %s, cached %s)", job.Namespace, job.Name, fresh.UID, job.UID)
	}
	if fresh.DeletionTimestamp != nil {
		return fmt.Errorf("job %s/%s is being deleted", job.Namespace, job.Name)
	}
	return nil
}

// adopt sets the Job as the pod's controller and adds the tracking
// finalizer; a pod gone meanwhile is skipped.
func (c *Controller) adopt(ctx context.Context, job *batchv1.Job, pod *corev1.Pod) (*corev1.Pod, error) {
	patch := fmt.Sprintf(`{"metadata":{"ownerReferences":[{"apiVersion":%q,"kind":%q,"name":%q,"uid":%q,"controller":true,"blockOwnerDeletion":true}],"uid":%q,"finalizers":[%q]}}`,
		jobKind.GroupVersion().String(), jobKind.Kind, job.Name, job.UID, pod.UID, batchv1.JobTrackingFinalizer)
	p, err := c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("adopting pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return p, nil
}

// release drops the Job's ownerReference and tracking finalizer.
func (c *Controller) release(ctx context.Context, job *batchv1.Job, pod *corev1.Pod) error {
	patch := fmt.Sprintf(`{"metadata":{"ownerReferences":[{"$patch":"delete","uid":%q}],"$deleteFromPrimitiveList/finalizers":[%q],"uid":%q}}`,
		job.UID, batchv1.JobTrackingFinalizer, pod.UID)
	_, err := c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsInvalid(err) {
		return fmt.Errorf("releasing pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
