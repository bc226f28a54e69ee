package job

import (
	"reflect"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// ownerIndex maps a pod to its controller's UID, or to "orphan/<ns>" when
// it has no controller: a Job's pods and its adoption candidates are then
// found without scanning the namespace.
const ownerIndex = "job-controller/owner"

func orphanIndexKey(ns string) string { return "orphan/" + ns }

func indexByOwner(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		return []string{string(ref.UID)}, nil
	}
	return []string{orphanIndexKey(pod.Namespace)}, nil
}

// resolveJob returns the Job a controller reference points to, if it
// exists with that UID.
func (c *Controller) resolveJob(ns string, ref *metav1.OwnerReference) *batchv1.Job {
	if ref == nil || ref.Kind != "Job" {
		return nil
	}
	job, err := c.jobLister.Jobs(ns).Get(ref.Name)
	if err != nil || job.UID != ref.UID {
		return nil
	}
	return job
}

func (c *Controller) addPod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	c.scans.noteSettled(pod)
	if pod.DeletionTimestamp != nil {
		c.deletePodEvent(pod, false)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		job := c.resolveJob(pod.Namespace, ref)
		if job == nil {
			if ref.Kind == "Job" && hasTrackingFinalizer(pod) {
				c.enqueueOrphan(pod)
			}
			return
		}
		if key, err := cache.MetaNamespaceKeyFunc(job); err == nil {
			c.exp.creationObserved(key)
		}
		c.enqueueBatched(job)
		return
	}
	if hasTrackingFinalizer(pod) {
		c.enqueueOrphan(pod)
	}
	// An orphan: any Job whose selector matches may adopt it.
	for _, job := range c.matchingJobs(pod) {
		c.enqueueBatched(job)
	}
}

func (c *Controller) updatePod(oldObj, newObj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	cur, ok2 := newObj.(*corev1.Pod)
	if !ok1 || !ok2 || (cur.ResourceVersion != "" && cur.ResourceVersion == old.ResourceVersion) {
		return
	}
	c.scans.noteSettled(cur)
	if cur.DeletionTimestamp != nil {
		c.deletePodEvent(cur, false)
		return
	}
	curRef, oldRef := metav1.GetControllerOf(cur), metav1.GetControllerOf(old)
	if !reflect.DeepEqual(curRef, oldRef) {
		if job := c.resolveJob(old.Namespace, oldRef); job != nil {
			c.enqueueBatched(job)
		}
	}
	if curRef != nil {
		job := c.resolveJob(cur.Namespace, curRef)
		if job == nil {
			if curRef.Kind == "Job" && hasTrackingFinalizer(cur) {
				c.enqueueOrphan(cur)
			}
			return
		}
		if !hasTrackingFinalizer(cur) {
			if key, err := cache.MetaNamespaceKeyFunc(job); err == nil {
				c.exp.finalizerRemovalObserved(key, string(cur.UID))
			}
		}
		c.enqueueBatched(job)
		return
	}
	if hasTrackingFinalizer(cur) {
		c.enqueueOrphan(cur)
	}
	if !reflect.DeepEqual(cur.Labels, old.Labels) || curRef == nil {
		for _, job := range c.matchingJobs(cur) {
			c.enqueueBatched(job)
		}
	}
}

// deletePodEvent handles a final delete or a deletionTimestamp being set.
func (c *Controller) deletePodEvent(obj any, final bool) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		tomb, isTomb := obj.(cache.DeletedFinalStateUnknown)
		if !isTomb {
			return
		}
		if pod, ok = tomb.Obj.(*corev1.Pod); !ok {
			return
		}
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return
	}
	job := c.resolveJob(pod.Namespace, ref)
	if job == nil || isFinished(job) {
		if hasTrackingFinalizer(pod) && !final {
			c.enqueueOrphan(pod)
		}
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(job)
	if err != nil {
		return
	}
	c.exp.deletionObserved(key)
	if final || !hasTrackingFinalizer(pod) {
		c.exp.finalizerRemovalObserved(key, string(pod.UID))
	}
	c.enqueueBatched(job)
}

// matchingJobs lists the namespace's Jobs whose selector matches the pod.
func (c *Controller) matchingJobs(pod *corev1.Pod) []*batchv1.Job {
	if len(pod.Labels) == 0 {
		return nil
	}
	jobs, err := c.jobLister.Jobs(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*batchv1.Job
	for _, job := range jobs {
		sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
		if err != nil || sel.Empty() {
			continue
		}
		if sel.Matches(labels.Set(pod.Labels)) {
			out = append(out, job)
		}
	}
	return out
}
