package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/batchlet/batchlet/internal/cachesync"
)

// Name is the schedulerName this scheduler serves and its event source.
const Name = corev1.DefaultSchedulerName

// Scheduler binds pending pods whose schedulerName is ours.
type Scheduler struct {
	client   kubernetes.Interface
	clk      clock.WithTicker
	events   record.EventBroadcaster
	recorder record.EventRecorder

	podLister corelisters.PodLister
	synced    []toolscache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	cache     *cache

	mu            sync.Mutex
	unschedulable map[string]bool // pod keys waiting for the cluster to change
	// binding holds pod keys from the decision to bind until the
	// informer shows the pod bound (or gone), or the bind fails. Before
	// the informer catches up, the lister still shows the pod pending,
	// and any event for it would otherwise schedule and bind it again.
	binding map[string]bool

	// binds bounds the binds in flight. Binding runs beside the next
	// decisions, as kube-scheduler's binding cycle does, so the rate of
	// placements is not one API round trip per worker.
	binds chan struct{}
	// bindWG tracks bind goroutines so Run returns after them.
	bindWG sync.WaitGroup
}

// maxBindsInFlight bounds concurrent pods/binding calls.
const maxBindsInFlight = 64

// New wires the scheduler to the shared informers; call it before the
// factory is started.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, clk clock.WithTicker) (*Scheduler, error) {
	if client == nil || factory == nil || clk == nil {
		return nil, fmt.Errorf("scheduler: client, informer factory and clock are required")
	}
	b := record.NewBroadcaster()
	s := &Scheduler{
		client:   client,
		clk:      clk,
		events:   b,
		recorder: b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Name}),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](10*time.Millisecond, 10*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "scheduler", Clock: clk}),
		cache:         newCache(),
		unschedulable: map[string]bool{},
		binding:       map[string]bool{},
		binds:         make(chan struct{}, maxBindsInFlight),
	}
	podInf := factory.InformerFor(&corev1.Pod{}, newPodInformer)
	nodeInf := factory.Core().V1().Nodes()
	if _, err := podInf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    s.onPod,
		UpdateFunc: func(_, obj any) { s.onPod(obj) },
		DeleteFunc: s.onPodDelete,
	}); err != nil {
		return nil, fmt.Errorf("scheduler: pod handler: %w", err)
	}
	if _, err := nodeInf.Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: s.onNode,
		UpdateFunc: func(_, obj any) {
			s.onNode(obj)
		},
		DeleteFunc: s.onNodeDelete,
	}); err != nil {
		return nil, fmt.Errorf("scheduler: node handler: %w", err)
	}
	s.podLister = corelisters.NewPodLister(podInf.GetIndexer())
	s.synced = []toolscache.InformerSynced{podInf.HasSynced, nodeInf.Informer().HasSynced}
	return s, nil
}

// Run starts workers and blocks until ctx is done.
func (s *Scheduler) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	s.events.StartStructuredLogging(3)
	s.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: s.client.CoreV1().Events("")})
	defer s.events.Shutdown()
	defer s.bindWG.Wait()
	defer s.queue.ShutDown()
	if !cachesync.Wait(ctx, s.synced...) {
		return
	}
	if workers < 1 {
		workers = 1
	}
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, s.worker, time.Second)
	}
	<-ctx.Done()
}

func (s *Scheduler) worker(ctx context.Context) {
	for s.processNext(ctx) {
	}
}

func (s *Scheduler) processNext(ctx context.Context) bool {
	key, quit := s.queue.Get()
	if quit {
		return false
	}
	defer s.queue.Done(key)
	if err := s.scheduleOne(ctx, key); err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "scheduling pod", "key", key)
		s.queue.AddRateLimited(key)
		return true
	}
	s.queue.Forget(key)
	return true
}

// nonTerminalPods selects the pods that are not Succeeded or Failed, as
// kube-scheduler does: a finished pod holds no resources, and one that
// finishes leaves the selection with a DELETED event.
var nonTerminalPods = fmt.Sprintf("status.phase!=%s,status.phase!=%s", corev1.PodSucceeded, corev1.PodFailed)

// newPodInformer watches the pods the scheduler places or counts.
func newPodInformer(client kubernetes.Interface, resync time.Duration) toolscache.SharedIndexInformer {
	return coreinformers.NewFilteredPodInformer(client, metav1.NamespaceAll, resync, toolscache.Indexers{},
		func(o *metav1.ListOptions) { o.FieldSelector = nonTerminalPods })
}

// ours: a pending pod this scheduler must place. An empty schedulerName
// (never seen once the apiserver has defaulted the pod) counts as ours.
func ours(pod *corev1.Pod) bool {
	name := pod.Spec.SchedulerName
	return pod.Spec.NodeName == "" && (name == Name || name == "") && pod.DeletionTimestamp == nil &&
		pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

func (s *Scheduler) onPod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	key, err := toolscache.MetaNamespaceKeyFunc(pod)
	if err != nil {
		return
	}
	switch {
	case pod.Spec.NodeName != "":
		s.mu.Lock()
		delete(s.binding, key)
		s.mu.Unlock()
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			s.cache.setPod(key, "", resources{})
			s.retryUnschedulable()
			return
		}
		s.cache.setPod(key, pod.Spec.NodeName, podRequests(pod))
	case ours(pod):
		s.queue.Add(key)
	}
}

func (s *Scheduler) onPodDelete(obj any) {
	if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	key, err := toolscache.MetaNamespaceKeyFunc(pod)
	if err != nil {
		return
	}
	s.cache.setPod(key, "", resources{})
	s.mu.Lock()
	delete(s.unschedulable, key)
	delete(s.binding, key)
	s.mu.Unlock()
	if pod.Spec.NodeName != "" {
		s.retryUnschedulable()
	}
}

func (s *Scheduler) onNode(obj any) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	s.cache.setNode(node)
	s.retryUnschedulable()
}

func (s *Scheduler) onNodeDelete(obj any) {
	if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if node, ok := obj.(*corev1.Node); ok {
		s.cache.removeNode(node.Name)
	}
}

// retryUnschedulable requeues pods that found no node, since the cluster
// changed.
func (s *Scheduler) retryUnschedulable() {
	s.mu.Lock()
	keys := make([]string, 0, len(s.unschedulable))
	for k := range s.unschedulable {
		keys = append(keys, k)
	}
	clear(s.unschedulable)
	s.mu.Unlock()
	for _, k := range keys {
		s.queue.Add(k)
	}
}

func (s *Scheduler) scheduleOne(ctx context.Context, key string) error {
	ns, name, err := toolscache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := s.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting pod %s: %w", key, err)
	}
	if !ours(pod) {
		return nil
	}
	s.mu.Lock()
	if s.binding[key] {
		// Bound or binding, and the informer has not shown it yet.
		s.mu.Unlock()
		return nil
	}
	// Marked before deciding, so a cluster change during the decision
	// still triggers a retry.
	s.unschedulable[key] = true
	s.mu.Unlock()
	d := s.cache.scheduleAndReserve(key, pod)
	if d.node == "" {
		return s.markUnschedulable(ctx, pod, d.message)
	}
	s.mu.Lock()
	delete(s.unschedulable, key)
	s.binding[key] = true
	s.mu.Unlock()
	s.bindAsync(ctx, key, pod, d.node)
	return nil
}

// bindAsync binds in the background, bounded by maxBindsInFlight; a
// failed bind puts the pod back in the queue with backoff.
func (s *Scheduler) bindAsync(ctx context.Context, key string, pod *corev1.Pod, node string) {
	select {
	case s.binds <- struct{}{}:
	case <-ctx.Done():
		s.mu.Lock()
		delete(s.binding, key)
		s.mu.Unlock()
		s.cache.unreserve(key, node)
		return
	}
	s.bindWG.Add(1)
	go func() {
		defer s.bindWG.Done()
		defer func() { <-s.binds }()
		bound, err := s.bind(ctx, key, pod, node)
		if !bound {
			s.mu.Lock()
			delete(s.binding, key)
			s.mu.Unlock()
		}
		if err != nil {
			utilruntime.HandleErrorWithContext(ctx, err, "binding pod", "key", key)
			s.queue.AddRateLimited(key)
			return
		}
		s.queue.Forget(key)
	}()
}

// bind binds pod to node and says whether it did.
func (s *Scheduler) bind(ctx context.Context, key string, pod *corev1.Pod, node string) (bool, error) {
	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}
	err := s.client.CoreV1().Pods(pod.Namespace).Bind(ctx, binding, metav1.CreateOptions{})
	if err != nil {
		s.cache.unreserve(key, node)
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) || ctx.Err() != nil {
			// Gone, bound meanwhile, or shutting down: the informer will tell.
			return false, nil
		}
		s.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedScheduling", "Binding rejected: %v", err)
		return false, fmt.Errorf("binding pod %s to %s: %w", key, node, err)
	}
	s.recorder.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
	return true, nil
}

// markUnschedulable sets PodScheduled=False/Unschedulable with the
// message, unless the pod already says exactly that.
func (s *Scheduler) markUnschedulable(ctx context.Context, pod *corev1.Pod, msg string) error {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable && c.Message == msg {
			return nil
		}
	}
	s.recorder.Event(pod, corev1.EventTypeWarning, "FailedScheduling", msg)
	cond := corev1.PodCondition{
		Type:               corev1.PodScheduled,
		Status:             corev1.ConditionFalse,
		Reason:             corev1.PodReasonUnschedulable,
		Message:            msg,
		LastTransitionTime: metav1.NewTime(s.clk.Now()),
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == cond.Status {
			cond.LastTransitionTime = c.LastTransitionTime
		}
	}
	// A strategic merge patch of the one condition (conditions merge by
	// type), as upstream's scheduler writes it: no resourceVersion, so a
	// cached copy a little behind the pod does not fail with a conflict.
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": []corev1.PodCondition{cond}}})
	if err != nil {
		return fmt.Errorf("marking pod %s/%s unschedulable: %w", pod.Namespace, pod.Name, err)
	}
	_, err = s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("marking pod %s/%s unschedulable: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
