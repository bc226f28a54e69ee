package job

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/batchlet/batchlet/internal/cachesync"
)

// componentName is the source of the controller's events.
const componentName = "job-controller"

// Controller syncs Jobs: one rate-limited queue of Job keys, one of orphan
// pods whose tracking finalizer must go.
type Controller struct {
	client   kubernetes.Interface
	clk      clock.WithTicker
	recorder record.EventRecorder
	events   record.EventBroadcaster

	jobLister  batchlisters.JobLister
	podLister  corelisters.PodLister
	podIndexer cache.Indexer
	jobIndexer cache.Indexer
	synced     []cache.InformerSynced

	queue       workqueue.TypedRateLimitingInterface[string]
	orphanQueue workqueue.TypedRateLimitingInterface[string]

	exp     *expectations
	backoff *backoffStore
	written *writtenJobs
	scans   *podScans

	// BatchPeriod delays syncs triggered by pod events so that bursts of
	// pod changes are handled in one sync (upstream: 1s).
	BatchPeriod time.Duration
}

// NewController wires the controller to the shared informers; call it
// before the factory is started.
func NewController(client kubernetes.Interface, factory informers.SharedInformerFactory, clk clock.WithTicker) (*Controller, error) {
	if client == nil || factory == nil || clk == nil {
		return nil, fmt.Errorf("job controller: client, informer factory and clock are required")
	}
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		client:   client,
		clk:      clk,
		events:   broadcaster,
		recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: componentName}),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "job", Clock: clk}),
		orphanQueue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "job-orphan-pod", Clock: clk}),
		exp:         newExpectations(clk),
		backoff:     newBackoffStore(),
		written:     newWrittenJobs(),
		scans:       newPodScans(),
		BatchPeriod: time.Second,
	}
	jobInf := factory.Batch().V1().Jobs()
	podInf := factory.Core().V1().Pods()
	if err := podInf.Informer().AddIndexers(cache.Indexers{ownerIndex: indexByOwner, unsettledIndex: indexUnsettledByOwner}); err != nil {
		return nil, fmt.Errorf("job controller: adding pod indexer: %w", err)
	}
	if _, err := jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addJob,
		UpdateFunc: c.updateJob,
		DeleteFunc: c.deleteJob,
	}); err != nil {
		return nil, fmt.Errorf("job controller: job handler: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: func(obj any) { c.deletePodEvent(obj, true) },
	}); err != nil {
		return nil, fmt.Errorf("job controller: pod handler: %w", err)
	}
	c.jobLister = jobInf.Lister()
	c.podLister = podInf.Lister()
	c.podIndexer = podInf.Informer().GetIndexer()
	c.jobIndexer = jobInf.Informer().GetIndexer()
	c.synced = []cache.InformerSynced{jobInf.Informer().HasSynced, podInf.Informer().HasSynced}
	return c, nil
}

// Run starts workers and blocks until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	c.events.StartStructuredLogging(3)
	c.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.events.Shutdown()
	defer c.queue.ShutDown()
	defer c.orphanQueue.ShutDown()

	if !cachesync.Wait(ctx, c.synced...) {
		return
	}
	if workers < 1 {
		workers = 1
	}
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, c.worker, time.Second)
	}
	go wait.UntilWithContext(ctx, c.orphanWorker, time.Second)
	<-ctx.Done()
}

func (c *Controller) worker(ctx context.Context) {
	for c.processNext(ctx) {
	}
}

func (c *Controller) processNext(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	if err := c.syncJob(ctx, key); err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "syncing job", "key", key)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

func (c *Controller) enqueue(job *batchv1.Job, delay time.Duration) {
	key, err := cache.MetaNamespaceKeyFunc(job)
	if err != nil {
		return
	}
	if delay <= 0 {
		c.queue.Add(key)
		return
	}
	c.queue.AddAfter(key, delay)
}

// enqueueBatched coalesces pod-triggered syncs.
func (c *Controller) enqueueBatched(job *batchv1.Job) { c.enqueue(job, c.BatchPeriod) }

func (c *Controller) addJob(obj any) {
	job, ok := obj.(*batchv1.Job)
	if !ok {
		return
	}
	c.enqueue(job, 0)
	if isFinished(job) {
		c.queueJobPodsForCleanup(job)
	}
}

func (c *Controller) updateJob(oldObj, newObj any) {
	old, ok1 := oldObj.(*batchv1.Job)
	cur, ok2 := newObj.(*batchv1.Job)
	if !ok1 || !ok2 {
		return
	}
	if cur.Generation != old.Generation || cur.DeletionTimestamp != nil {
		c.enqueue(cur, 0)
	} else {
		c.enqueueBatched(cur)
	}
	if cur.Spec.ActiveDeadlineSeconds != nil && cur.Status.StartTime != nil && !ptrEqual(old.Spec.ActiveDeadlineSeconds, cur.Spec.ActiveDeadlineSeconds) {
		left := time.Duration(*cur.Spec.ActiveDeadlineSeconds)*time.Second - c.clk.Since(cur.Status.StartTime.Time)
		c.enqueue(cur, left)
	}
	if isFinished(cur) && !isFinished(old) {
		c.queueJobPodsForCleanup(cur)
	}
}

func ptrEqual(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func (c *Controller) deleteJob(obj any) {
	job, ok := obj.(*batchv1.Job)
	if !ok {
		tomb, isTomb := obj.(cache.DeletedFinalStateUnknown)
		if !isTomb {
			return
		}
		if job, ok = tomb.Obj.(*batchv1.Job); !ok {
			return
		}
	}
	c.enqueue(job, 0)
	c.queueJobPodsForCleanup(job)
	if key, err := cache.MetaNamespaceKeyFunc(job); err == nil {
		c.scans.forget(key)
	}
}

// queueJobPodsForCleanup hands the Job's pods still holding the tracking
// finalizer to the orphan worker; such pods are never settled.
func (c *Controller) queueJobPodsForCleanup(job *batchv1.Job) {
	objs, err := c.podIndexer.ByIndex(unsettledIndex, string(job.UID))
	if err != nil {
		return
	}
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok && hasTrackingFinalizer(p) {
			c.enqueueOrphan(p)
		}
	}
}

func (c *Controller) enqueueOrphan(pod *corev1.Pod) {
	if key, err := cache.MetaNamespaceKeyFunc(pod); err == nil {
		c.orphanQueue.Add(key)
	}
}
