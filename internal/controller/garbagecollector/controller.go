package garbagecollector

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/batchlet/batchlet/internal/cachesync"
	"github.com/batchlet/batchlet/internal/controller/queueworker"
)

// componentName names the controller in logs and cache-sync messages.
const componentName = "garbage-collector-controller"

// Controller is the garbage collector.
type Controller struct {
	client   kubernetes.Interface
	metadata metadata.Interface
	mapper   meta.RESTMapper
	clk      clock.WithTicker

	// Discovery lists the served resources; every one that supports
	// delete, list and watch is watched, as upstream. It defaults to the
	// client's discovery.
	Discovery ResourceDiscoverer
	// Resources, when set before Run, replaces discovery with a fixed
	// list of candidates resolved through the mapper.
	Resources []schema.GroupResource

	graph *graph
	queue workqueue.TypedRateLimitingInterface[objectKey]

	mu       sync.Mutex
	watching []servedResource
}

// NewController creates the collector. The resources are resolved through
// the mapper when Run starts, so the API need not be up yet.
func NewController(client kubernetes.Interface, metadataClient metadata.Interface, mapper meta.RESTMapper, clk clock.WithTicker) (*Controller, error) {
	if metadataClient == nil || mapper == nil || clk == nil {
		return nil, fmt.Errorf("garbage collector: metadata client, REST mapper and clock are required")
	}
	c := &Controller{
		client:   client,
		metadata: metadataClient,
		mapper:   mapper,
		clk:      clk,
		graph:    newGraph(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[objectKey](5*time.Millisecond, time.Minute),
			workqueue.TypedRateLimitingQueueConfig[objectKey]{Name: "garbage_collector_attempt_to_delete", Clock: clk}),
	}
	if client != nil {
		c.Discovery = client.Discovery()
	}
	return c, nil
}

// Run watches the served resources, waits for every cache and processes
// objects until ctx is done. Nothing is deleted before all caches synced,
// so no owner is mistaken for missing.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()

	var served []servedResource
	// The mapper may not know the resources until the API is up.
	_ = wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		served = c.servedResources(ctx)
		if len(served) == 0 {
			if r, ok := c.mapper.(meta.ResettableRESTMapper); ok {
				r.Reset()
			}
		}
		return len(served) > 0, nil
	})
	if ctx.Err() != nil {
		return
	}
	factory := metadatainformer.NewSharedInformerFactory(c.metadata, 0)
	var synced []cache.InformerSynced
	for _, r := range served {
		inf := factory.ForResource(r.gvr).Informer()
		if _, err := inf.AddEventHandler(c.handlers(r.gvr)); err != nil {
			utilruntime.HandleErrorWithContext(ctx, err, "watching resource", "resource", r.gvr)
			continue
		}
		synced = append(synced, inf.HasSynced)
	}
	c.mu.Lock()
	c.watching = served
	c.mu.Unlock()
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cachesync.Wait(ctx, synced...) {
		return
	}
	queueworker.Start(ctx, c.queue, workers, c.process, c.processFailed)
	<-ctx.Done()
}

// servedResources is what to watch: the fixed candidates if set, else
// what discovery serves.
func (c *Controller) servedResources(ctx context.Context) []servedResource {
	if c.Resources != nil || c.Discovery == nil {
		return resolveResources(c.mapper, c.Resources)
	}
	served, err := discoverResources(c.Discovery)
	if err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "discovering resources to watch")
	}
	return served
}

func (c *Controller) processFailed(ctx context.Context, key objectKey, err error) bool {
	utilruntime.HandleErrorWithContext(ctx, err, "garbage collecting", "resource", key.resource, "namespace", key.namespace, "name", key.name)
	return true
}

func (c *Controller) handlers(gvr schema.GroupVersionResource) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.observe(gvr, obj) },
		UpdateFunc: func(_, obj any) { c.observe(gvr, obj) },
		DeleteFunc: func(obj any) { c.forget(obj) },
	}
}

func toNode(gvr schema.GroupVersionResource, obj any) (*node, bool) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, false
	}
	return &node{
		key:             objectKey{resource: gvr, namespace: m.GetNamespace(), name: m.GetName(), uid: m.GetUID()},
		resourceVersion: m.GetResourceVersion(),
		owners:          m.GetOwnerReferences(),
		deleting:        m.GetDeletionTimestamp() != nil,
		finalizers:      m.GetFinalizers(),
	}, true
}

// observe records an added or updated object and queues what may need
// work: the object itself, and its dependents when it is being deleted.
func (c *Controller) observe(gvr schema.GroupVersionResource, obj any) {
	n, ok := toNode(gvr, obj)
	if !ok {
		return
	}
	c.graph.upsert(n)
	if len(n.owners) > 0 || n.deleting {
		c.queue.Add(n.key)
	}
	if n.deleting {
		for _, d := range c.graph.dependentsOf(n.key.uid) {
			c.queue.Add(d.key)
		}
	}
}

// forget drops a deleted object and wakes its dependents (now dangling) and
// its owners (which may be waiting for it).
func (c *Controller) forget(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	uid := m.GetUID()
	c.graph.remove(uid)
	for _, d := range c.graph.dependentsOf(uid) {
		c.queue.Add(d.key)
	}
	for _, o := range m.GetOwnerReferences() {
		if owner, ok := c.graph.get(o.UID); ok && owner.deleting {
			c.queue.Add(owner.key)
		}
	}
}

// deleteOptions deletes exactly the object decided upon.
func deleteOptions(uid objectKey, policy metav1.DeletionPropagation) metav1.DeleteOptions {
	u := uid.uid
	return metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &u}, PropagationPolicy: &policy}
}
