package endpoints

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/batchlet/batchlet/internal/cachesync"
	"github.com/batchlet/batchlet/internal/controller/queueworker"
)

// componentName is the event source and cache-sync name, as upstream.
const componentName = "endpoint-controller"

// maxRetries bounds retries of one Service before it is dropped until its
// next change.
const maxRetries = 15

// leaderElectionAnnotation marks Endpoints used as leader-election locks,
// which have no Service and must never be collected.
const leaderElectionAnnotation = "control-plane.alpha.kubernetes.io/leader"

// Controller keeps Endpoints in step with Services and their pods.
type Controller struct {
	client   kubernetes.Interface
	clk      clock.WithTicker
	events   record.EventBroadcaster
	recorder record.EventRecorder

	serviceLister   corelisters.ServiceLister
	podLister       corelisters.PodLister
	endpointsLister corelisters.EndpointsLister
	synced          []cache.InformerSynced

	queue    workqueue.TypedRateLimitingInterface[string]
	triggers *triggerTracker

	// BatchPeriod delays syncs caused by pod changes so that a burst of
	// pod updates costs one Endpoints write. Set before Run.
	BatchPeriod time.Duration
}

// NewController wires the controller to the shared informers; call it
// before the factory is started.
func NewController(client kubernetes.Interface, factory informers.SharedInformerFactory, clk clock.WithTicker) (*Controller, error) {
	if client == nil || factory == nil || clk == nil {
		return nil, fmt.Errorf("endpoint controller: client, informer factory and clock are required")
	}
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		client:   client,
		clk:      clk,
		events:   broadcaster,
		recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: componentName}),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoint", Clock: clk}),
		triggers:    newTriggerTracker(),
		BatchPeriod: 100 * time.Millisecond,
	}
	svcInf := factory.Core().V1().Services()
	podInf := factory.Core().V1().Pods()
	epInf := factory.Core().V1().Endpoints()
	if _, err := svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
		DeleteFunc: c.enqueue,
	}); err != nil {
		return nil, fmt.Errorf("endpoint controller: service handler: %w", err)
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.podChanged(nil, obj) },
		UpdateFunc: c.podChanged,
		DeleteFunc: func(obj any) { c.podChanged(nil, obj) },
	}); err != nil {
		return nil, fmt.Errorf("endpoint controller: pod handler: %w", err)
	}
	// An Endpoints object deleted by someone else is recreated.
	if _, err := epInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: c.enqueue,
	}); err != nil {
		return nil, fmt.Errorf("endpoint controller: endpoints handler: %w", err)
	}
	c.serviceLister = svcInf.Lister()
	c.podLister = podInf.Lister()
	c.endpointsLister = epInf.Lister()
	c.synced = []cache.InformerSynced{svcInf.Informer().HasSynced, podInf.Informer().HasSynced, epInf.Informer().HasSynced}
	return c, nil
}

// Run starts workers and blocks until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	c.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.events.Shutdown()
	defer c.queue.ShutDown()
	if !cachesync.Wait(ctx, c.synced...) {
		return
	}
	queueworker.Start(ctx, c.queue, workers, c.sync, c.syncFailed)
	c.enqueueLeftovers(ctx)
	<-ctx.Done()
}

// syncFailed retries a Service a few times, then drops it until it or
// its pods change again.
func (c *Controller) syncFailed(ctx context.Context, key string, err error) bool {
	if c.queue.NumRequeues(key) < maxRetries {
		klog.FromContext(ctx).V(2).Info("Error syncing endpoints, retrying", "key", key, "err", err)
		return true
	}
	utilruntime.HandleErrorWithContext(ctx, err, "Dropping service out of the queue", "key", key)
	return false
}

// enqueue queues the Service named like obj (a Service or Endpoints, or a
// tombstone of either).
func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("endpoint controller: key for %T: %w", obj, err))
		return
	}
	c.queue.Add(key)
}

// podChanged queues, after the batch period, every Service whose selector
// matched the pod before or matches it now.
func (c *Controller) podChanged(old, cur any) {
	keys := map[string]bool{}
	for _, obj := range []any{old, cur} {
		pod := asPod(obj)
		if pod == nil {
			continue
		}
		for _, k := range c.servicesFor(pod) {
			keys[k] = true
		}
	}
	for k := range keys {
		c.queue.AddAfter(k, c.BatchPeriod)
	}
}

func asPod(obj any) *corev1.Pod {
	switch o := obj.(type) {
	case *corev1.Pod:
		return o
	case cache.DeletedFinalStateUnknown:
		p, _ := o.Obj.(*corev1.Pod)
		return p
	}
	return nil
}

// servicesFor lists the keys of Services in the pod's namespace whose
// selector matches the pod's labels.
func (c *Controller) servicesFor(pod *corev1.Pod) []string {
	svcs, err := c.serviceLister.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var keys []string
	for _, svc := range svcs {
		if svc.Spec.Selector == nil {
			continue
		}
		if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			keys = append(keys, svc.Namespace+"/"+svc.Name)
		}
	}
	return keys
}

// enqueueLeftovers queues the Service of every existing Endpoints object, so
// that Endpoints whose Service went away while the controller was down are
// deleted.
func (c *Controller) enqueueLeftovers(ctx context.Context) {
	eps, err := c.endpointsLister.List(labels.Everything())
	if err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "listing endpoints; orphaned endpoints will not be cleaned up")
		return
	}
	for _, ep := range eps {
		if _, ok := ep.Annotations[leaderElectionAnnotation]; ok {
			continue
		}
		c.queue.Add(ep.Namespace + "/" + ep.Name)
	}
}
