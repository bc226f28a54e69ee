package ttlafterfinished

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/batchlet/batchlet/internal/cachesync"
	"github.com/batchlet/batchlet/internal/controller/queueworker"
)

// componentName names the controller in logs and cache-sync messages.
const componentName = "ttl-after-finished-controller"

// Controller deletes expired finished Jobs.
type Controller struct {
	client    kubernetes.Interface
	clk       clock.WithTicker
	jobLister batchlisters.JobLister
	synced    cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
}

// NewController wires the controller to the shared Job informer; call it
// before the factory is started.
func NewController(client kubernetes.Interface, factory informers.SharedInformerFactory, clk clock.WithTicker) (*Controller, error) {
	if client == nil || factory == nil || clk == nil {
		return nil, fmt.Errorf("ttl-after-finished controller: client, informer factory and clock are required")
	}
	c := &Controller{
		client: client,
		clk:    clk,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "ttl_jobs_to_delete", Clock: clk}),
	}
	inf := factory.Batch().V1().Jobs()
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueIfCandidate,
		UpdateFunc: func(_, cur any) { c.enqueueIfCandidate(cur) },
	}); err != nil {
		return nil, fmt.Errorf("ttl-after-finished controller: job handler: %w", err)
	}
	c.jobLister = inf.Lister()
	c.synced = inf.Informer().HasSynced
	return c, nil
}

// Run starts workers and blocks until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	if !cachesync.Wait(ctx, c.synced) {
		return
	}
	queueworker.Start(ctx, c.queue, workers, c.sync, c.syncFailed)
	<-ctx.Done()
}

func (c *Controller) syncFailed(ctx context.Context, key string, err error) bool {
	utilruntime.HandleErrorWithContext(ctx, err, "cleaning up job", "key", key)
	return true
}

func (c *Controller) enqueueIfCandidate(obj any) {
	j, ok := obj.(*batchv1.Job)
	if !ok || !needsCleanup(j) {
		return
	}
	if key, err := cache.MetaNamespaceKeyFunc(j); err == nil {
		c.queue.Add(key)
	}
}

// sync deletes the Job if its TTL expired, or requeues it for when it will.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("splitting key %q: %w", key, err)
	}
	cached, err := c.jobLister.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting job %s from cache: %w", key, err)
	}
	if expired, err := c.expired(cached); err != nil || !expired {
		return err
	}
	// The TTL may have been edited since the cache saw the Job: decide
	// again on a fresh copy.
	fresh, err := c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting job %s: %w", key, err)
	}
	if expired, err := c.expired(fresh); err != nil || !expired {
		return err
	}
	policy := metav1.DeletePropagationForeground
	opts := metav1.DeleteOptions{
		PropagationPolicy: &policy,
		Preconditions:     &metav1.Preconditions{UID: &fresh.UID},
	}
	klog.FromContext(ctx).V(4).Info("Cleaning up Job", "job", klog.KObj(fresh))
	if err := c.client.BatchV1().Jobs(ns).Delete(ctx, name, opts); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting job %s: %w", key, err)
	}
	return nil
}

// expired reports whether j's TTL has run out, requeueing it for the
// remaining time when not.
func (c *Controller) expired(j *batchv1.Job) (bool, error) {
	if !needsCleanup(j) {
		return false, nil
	}
	now := c.clk.Now()
	left, err := timeLeft(j, now)
	if err != nil {
		return false, err
	}
	if ft, _ := finishTime(j); ft.After(now) {
		klog.Background().Info("Warning: Found Job finished in the future. This is likely due to time skew in the cluster. Job cleanup will be deferred.", "job", klog.KObj(j))
	}
	if left > 0 {
		if key, err := cache.MetaNamespaceKeyFunc(j); err == nil {
			c.queue.AddAfter(key, left)
		}
		return false, nil
	}
	return true, nil
}
