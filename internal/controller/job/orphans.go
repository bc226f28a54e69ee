package job

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/cache"
)

func (c *Controller) orphanWorker(ctx context.Context) {
	for c.processNextOrphan(ctx) {
	}
}

func (c *Controller) processNextOrphan(ctx context.Context) bool {
	key, quit := c.orphanQueue.Get()
	if quit {
		return false
	}
	defer c.orphanQueue.Done(key)
	if err := c.syncOrphanPod(ctx, key); err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "cleaning orphan pod", "key", key)
		c.orphanQueue.AddRateLimited(key)
		return true
	}
	c.orphanQueue.Forget(key)
	return true
}

// syncOrphanPod strips the tracking finalizer from a pod no live Job of
// ours will ever count: no controller, or its Job gone or finished.
func (c *Controller) syncOrphanPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil || !hasTrackingFinalizer(pod) {
		return err
	}
	if ref := metav1.GetControllerOf(pod); ref != nil && ref.Kind == "Job" {
		job := c.resolveJob(ns, ref)
		if job == nil {
			// The cache may lag: ask the API before giving the pod up.
			fresh, err := c.client.BatchV1().Jobs(ns).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("checking owner of pod %s: %w", key, err)
			}
			if err == nil && fresh.UID == ref.UID {
				job = fresh
			}
		}
		if job != nil && (managedElsewhere(job) || !isFinished(job)) {
			return nil
		}
	}
	return c.removeFinalizer(ctx, pod)
}
