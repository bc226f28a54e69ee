package podgc

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/batchlet/batchlet/internal/cachesync"
)

// componentName names the controller in logs and cache-sync messages.
const componentName = "pod-garbage-collector"

const (
	// gcCheckPeriod is how often a collection runs (upstream: 20s).
	gcCheckPeriod = 20 * time.Second
	// quarantineTime is how long a node must be missing before its pods
	// are collected, so that a node just registering is not mistaken for
	// a deleted one (upstream: 40s).
	quarantineTime = 40 * time.Second
)

// Controller collects pods periodically.
type Controller struct {
	client     kubernetes.Interface
	clk        clock.WithTicker
	podLister  corelisters.PodLister
	nodeLister corelisters.NodeLister
	synced     []cache.InformerSynced
	threshold  int

	mu sync.Mutex
	// missingSince records when each node was first seen missing.
	missingSince map[string]time.Time
}

// NewController wires the collector to the shared informers; call it before
// the factory is started. terminatedPodThreshold <= 0 disables collection
// of terminated pods.
func NewController(client kubernetes.Interface, factory informers.SharedInformerFactory, clk clock.WithTicker, terminatedPodThreshold int) (*Controller, error) {
	if client == nil || factory == nil || clk == nil {
		return nil, fmt.Errorf("pod gc: client, informer factory and clock are required")
	}
	pods := factory.Core().V1().Pods()
	nodes := factory.Core().V1().Nodes()
	return &Controller{
		client:       client,
		clk:          clk,
		podLister:    pods.Lister(),
		nodeLister:   nodes.Lister(),
		synced:       []cache.InformerSynced{pods.Informer().HasSynced, nodes.Informer().HasSynced},
		threshold:    terminatedPodThreshold,
		missingSince: map[string]time.Time{},
	}, nil
}

// Run collects every 20s until ctx is done. The worker count is unused: one
// pass at a time is enough.
func (c *Controller) Run(ctx context.Context, _ int) {
	defer utilruntime.HandleCrash()
	if !cachesync.Wait(ctx, c.synced...) {
		return
	}
	ticker := c.clk.NewTicker(gcCheckPeriod)
	defer ticker.Stop()
	for {
		c.gc(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
	}
}

// gc runs one collection pass.
func (c *Controller) gc(ctx context.Context) {
	pods, err := c.podLister.List(labels.Everything())
	if err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "listing pods")
		return
	}
	for _, p := range terminatedOverThreshold(pods, c.threshold) {
		c.deletePod(ctx, p, nil)
	}
	missing := c.missingNodes(ctx, pods)
	for _, p := range boundToMissingNodes(pods, missing) {
		c.deletePod(ctx, p, &corev1.PodCondition{
			Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
			Reason: "DeletionByPodGC", Message: "PodGC: node no longer exists",
		})
	}
	for _, p := range unscheduledTerminating(pods) {
		c.deletePod(ctx, p, nil)
	}
}

// missingNodes returns the nodes pods are bound to that have been absent
// from the cache for the quarantine time and that a live GET confirms gone.
func (c *Controller) missingNodes(ctx context.Context, pods []*corev1.Pod) map[string]bool {
	now := c.clk.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	referenced := map[string]bool{}
	for _, p := range pods {
		if p.Spec.NodeName != "" {
			referenced[p.Spec.NodeName] = true
		}
	}
	missing := map[string]bool{}
	for name := range referenced {
		if _, err := c.nodeLister.Get(name); err == nil {
			delete(c.missingSince, name)
			continue
		}
		since, seen := c.missingSince[name]
		if !seen {
			c.missingSince[name] = now
			continue
		}
		if now.Sub(since) < quarantineTime {
			continue
		}
		_, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			missing[name] = true
		case err == nil:
			delete(c.missingSince, name)
		}
	}
	for name := range c.missingSince {
		if !referenced[name] {
			delete(c.missingSince, name)
		}
	}
	return missing
}

// deletePod marks a non-terminal pod Failed (with cond when given) and
// force-deletes it.
func (c *Controller) deletePod(ctx context.Context, p *corev1.Pod, cond *corev1.PodCondition) {
	logger := klog.FromContext(ctx)
	if !isTerminated(p) {
		pod := p.DeepCopy()
		pod.Status.Phase = corev1.PodFailed
		if cond != nil {
			withTime := *cond
			withTime.LastTransitionTime = metav1.NewTime(c.clk.Now())
			pod.Status.Conditions = append(pod.Status.Conditions, withTime)
		}
		if _, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			logger.V(2).Info("Failed to mark pod Failed before deletion", "pod", klog.KObj(p), "err", err)
		}
	}
	err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, *metav1.NewDeleteOptions(0))
	if err != nil && !apierrors.IsNotFound(err) {
		utilruntime.HandleErrorWithContext(ctx, err, "deleting pod", "pod", klog.KObj(p))
		return
	}
	logger.V(2).Info("Garbage collected pod", "pod", klog.KObj(p))
}
