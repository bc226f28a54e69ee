package cronjob

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/batchlet/batchlet/internal/cachesync"
)

// componentName is the source of the controller's events.
const componentName = "cronjob-controller"

// jobOwnerIndex indexes Jobs by the name of their controlling CronJob.
const jobOwnerIndex = "cronjob-owner"

// Controller creates Jobs from CronJobs on schedule.
type Controller struct {
	client   kubernetes.Interface
	clk      clock.WithTicker
	recorder record.EventRecorder
	events   record.EventBroadcaster

	cronJobLister batchlisters.CronJobLister
	jobIndexer    cache.Indexer
	synced        []cache.InformerSynced

	queue workqueue.TypedRateLimitingInterface[string]
}

// NewController wires the controller to the shared informers; call it
// before the factory is started.
func NewController(client kubernetes.Interface, factory informers.SharedInformerFactory, clk clock.WithTicker) (*Controller, error) {
	if client == nil || factory == nil || clk == nil {
		return nil, fmt.Errorf("cronjob controller: client, informer factory and clock are required")
	}
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		client:   client,
		clk:      clk,
		events:   broadcaster,
		recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: componentName}),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "cronjob", Clock: clk}),
	}
	jobInf := factory.Batch().V1().Jobs()
	cjInf := factory.Batch().V1().CronJobs()
	if err := jobInf.Informer().AddIndexers(cache.Indexers{jobOwnerIndex: indexByCronJob}); err != nil {
		return nil, fmt.Errorf("cronjob controller: adding job indexer: %w", err)
	}
	if _, err := jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.jobChanged,
		UpdateFunc: c.updateJob,
		DeleteFunc: c.jobChanged,
	}); err != nil {
		return nil, fmt.Errorf("cronjob controller: job handler: %w", err)
	}
	if _, err := cjInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueue(obj, 0) },
		UpdateFunc: c.updateCronJob,
		DeleteFunc: func(obj any) { c.enqueue(obj, 0) },
	}); err != nil {
		return nil, fmt.Errorf("cronjob controller: cronjob handler: %w", err)
	}
	c.cronJobLister = cjInf.Lister()
	c.jobIndexer = jobInf.Informer().GetIndexer()
	c.synced = []cache.InformerSynced{jobInf.Informer().HasSynced, cjInf.Informer().HasSynced}
	return c, nil
}

// Run starts workers and blocks until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	c.events.StartStructuredLogging(3)
	c.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.events.Shutdown()
	defer c.queue.ShutDown()

	if !cachesync.Wait(ctx, c.synced...) {
		return
	}
	for i := 0; i < max(workers, 1); i++ {
		go wait.UntilWithContext(ctx, c.worker, time.Second)
	}
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
	requeue, err := c.sync(ctx, key)
	switch {
	case err != nil:
		utilruntime.HandleErrorWithContext(ctx, err, "syncing cronjob", "key", key)
		c.queue.AddRateLimited(key)
	case requeue != nil:
		c.queue.Forget(key)
		c.queue.AddAfter(key, *requeue)
	default:
		c.queue.Forget(key)
	}
	return true
}

func indexByCronJob(obj any) ([]string, error) {
	job, ok := obj.(*batchv1.Job)
	if !ok {
		return nil, nil
	}
	ref := metav1.GetControllerOf(job)
	if ref == nil || ref.Kind != controllerKind.Kind {
		return nil, nil
	}
	return []string{job.Namespace + "/" + ref.Name}, nil
}

func (c *Controller) enqueue(obj any, delay time.Duration) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	if delay <= 0 {
		c.queue.Add(key)
		return
	}
	c.queue.AddAfter(key, delay)
}

// updateCronJob requeues at the new next slot when the schedule or time
// zone changed, and at once for any other change.
func (c *Controller) updateCronJob(oldObj, newObj any) {
	old, ok1 := oldObj.(*batchv1.CronJob)
	cur, ok2 := newObj.(*batchv1.CronJob)
	if !ok1 || !ok2 {
		return
	}
	if old.Spec.Schedule == cur.Spec.Schedule && ptr.Equal(old.Spec.TimeZone, cur.Spec.TimeZone) {
		c.enqueue(cur, 0)
		return
	}
	sched, err := parseSchedule(cur)
	if err != nil {
		c.recorder.Eventf(cur, corev1.EventTypeWarning, "UnParseableCronJobSchedule", "unparseable schedule for cronjob: %s", cur.Spec.Schedule)
		return
	}
	c.enqueue(cur, nextScheduleDelay(cur, c.clk.Now(), sched))
}

func (c *Controller) updateJob(oldObj, newObj any) {
	old, ok1 := oldObj.(*batchv1.Job)
	cur, ok2 := newObj.(*batchv1.Job)
	if !ok1 || !ok2 || old.ResourceVersion == cur.ResourceVersion {
		return
	}
	if oldRef, curRef := metav1.GetControllerOf(old), metav1.GetControllerOf(cur); oldRef != nil && (curRef == nil || oldRef.UID != curRef.UID) {
		c.enqueueOwner(old)
	}
	c.enqueueOwner(cur)
}

func (c *Controller) jobChanged(obj any) {
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
	c.enqueueOwner(job)
}

// enqueueOwner wakes the CronJob controlling job, checked by UID.
func (c *Controller) enqueueOwner(job *batchv1.Job) {
	ref := metav1.GetControllerOf(job)
	if ref == nil || ref.Kind != controllerKind.Kind {
		return
	}
	cj, err := c.cronJobLister.CronJobs(job.Namespace).Get(ref.Name)
	if err != nil || cj.UID != ref.UID {
		return
	}
	c.enqueue(cj, 0)
}
