package namespace

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/batchlet/batchlet/internal/cachesync"
	"github.com/batchlet/batchlet/internal/controller/queueworker"
)

// componentName names the controller in logs and cache-sync messages.
const componentName = "namespace-controller"

// errContentRemaining requeues a namespace whose content is still going.
var errContentRemaining = errors.New("content remaining in the namespace")

// Controller empties and finalizes deleted namespaces.
type Controller struct {
	client    kubernetes.Interface
	metadata  metadata.Interface
	discovery discovery.DiscoveryInterface
	clk       clock.WithTicker

	nsLister corelisters.NamespaceLister
	synced   cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
}

// NewController wires the controller to the shared namespace informer; call
// it before the factory is started.
func NewController(client kubernetes.Interface, metadataClient metadata.Interface, discoveryClient discovery.DiscoveryInterface, factory informers.SharedInformerFactory, clk clock.WithTicker) (*Controller, error) {
	if client == nil || metadataClient == nil || discoveryClient == nil || factory == nil || clk == nil {
		return nil, fmt.Errorf("namespace controller: clients, informer factory and clock are required")
	}
	c := &Controller{
		client:    client,
		metadata:  metadataClient,
		discovery: discoveryClient,
		clk:       clk,
		// Content that is still terminating is checked again soon, then
		// less often; pods normally go within their grace period.
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, 5*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "namespace", Clock: clk}),
	}
	inf := factory.Core().V1().Namespaces()
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
	}); err != nil {
		return nil, fmt.Errorf("namespace controller: namespace handler: %w", err)
	}
	c.nsLister = inf.Lister()
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

// syncFailed retries every failure; a namespace still emptying is
// expected and not worth a log line.
func (c *Controller) syncFailed(ctx context.Context, key string, err error) bool {
	if !errors.Is(err, errContentRemaining) {
		utilruntime.HandleErrorWithContext(ctx, err, "deleting namespace", "namespace", key)
	}
	return true
}

func (c *Controller) enqueue(obj any) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok || ns.DeletionTimestamp == nil {
		return
	}
	c.queue.Add(ns.Name)
}

// sync empties a deleted namespace and then finalizes it.
func (c *Controller) sync(ctx context.Context, name string) error {
	cached, err := c.nsLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting namespace %s from cache: %w", name, err)
	}
	if cached.DeletionTimestamp == nil || !hasFinalizer(cached, corev1.FinalizerKubernetes) {
		return nil
	}
	ns := cached.DeepCopy()
	report := c.deleteContent(ctx, name)
	conds, changed := mergeConditions(ns.Status.Conditions, report.conditions(metav1.NewTime(c.clk.Now())))
	if changed || ns.Status.Phase != corev1.NamespaceTerminating {
		ns.Status.Phase = corev1.NamespaceTerminating
		ns.Status.Conditions = conds
		updated, err := c.client.CoreV1().Namespaces().UpdateStatus(ctx, ns, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("updating status of namespace %s: %w", name, err)
		}
		ns = updated
	}
	if !report.done() {
		return errContentRemaining
	}
	kept := ns.Spec.Finalizers[:0:0]
	for _, f := range ns.Spec.Finalizers {
		if f != corev1.FinalizerKubernetes {
			kept = append(kept, f)
		}
	}
	ns.Spec.Finalizers = kept
	if _, err := c.client.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("finalizing namespace %s: %w", name, err)
	}
	return nil
}

func hasFinalizer(ns *corev1.Namespace, f corev1.FinalizerName) bool {
	for _, x := range ns.Spec.Finalizers {
		if x == f {
			return true
		}
	}
	return false
}
