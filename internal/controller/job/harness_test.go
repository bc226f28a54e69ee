package job

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// harness runs syncJob against a fake clientset, feeding the informer
// caches from the fake's state between syncs.
type harness struct {
	t      *testing.T
	client *fake.Clientset
	clk    *clocktesting.FakeClock
	c      *Controller
	rec    *record.FakeRecorder
	key    string
	// everyPod makes each sync read all the Job's pods, as before settled
	// pods were skipped: the reference the skipping must agree with.
	everyPod bool
}

func newHarness(t *testing.T, job *batchv1.Job) *harness {
	t.Helper()
	client := fake.NewClientset(job)
	generateNames(client)
	clk := clocktesting.NewFakeClock(t0)
	// Pod DELETE is graceful, as on a real apiserver: the pod stays with
	// a deletionTimestamp until the test removes it with gone().
	client.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		da := a.(k8stesting.DeleteAction)
		obj, err := client.Tracker().Get(podGVR, da.GetNamespace(), da.GetName())
		if err != nil {
			return true, nil, err
		}
		pod := obj.(*corev1.Pod).DeepCopy()
		if pod.DeletionTimestamp == nil {
			pod.DeletionTimestamp = ptr.To(metav1.NewTime(clk.Now()))
			pod.DeletionGracePeriodSeconds = ptr.To[int64](30)
		}
		return true, nil, client.Tracker().Update(podGVR, pod, pod.Namespace)
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := NewController(client, factory, clk)
	if err != nil {
		t.Fatal(err)
	}
	rec := record.NewFakeRecorder(1000)
	c.recorder = rec
	h := &harness{t: t, client: client, clk: clk, c: c, rec: rec, key: job.Namespace + "/" + job.Name}
	h.refresh()
	return h
}

// refresh copies the fake's objects into the informer caches, as a
// perfectly up-to-date watch would, and settles expectations.
func (h *harness) refresh() {
	h.t.Helper()
	ctx := context.Background()
	jobs, _ := h.client.BatchV1().Jobs("").List(ctx, metav1.ListOptions{})
	pods, _ := h.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	var jobObjs, podObjs []any
	for i := range jobs.Items {
		jobObjs = append(jobObjs, &jobs.Items[i])
	}
	for i := range pods.Items {
		podObjs = append(podObjs, &pods.Items[i])
	}
	if err := h.jobStore().Replace(jobObjs, ""); err != nil {
		h.t.Fatal(err)
	}
	before := map[string]*corev1.Pod{}
	for _, o := range h.c.podIndexer.List() {
		p := o.(*corev1.Pod)
		before[p.Namespace+"/"+p.Name] = p
	}
	if err := h.c.podIndexer.Replace(podObjs, ""); err != nil {
		h.t.Fatal(err)
	}
	// Notify the handlers as the informer would, after the store holds
	// the change: the controller learns of changed settled pods this way.
	for i := range pods.Items {
		cur := &pods.Items[i]
		k := cur.Namespace + "/" + cur.Name
		old, ok := before[k]
		delete(before, k)
		switch {
		case !ok:
			h.c.addPod(cur)
		case !equality.Semantic.DeepEqual(old, cur):
			h.c.updatePod(old, cur)
		}
	}
	for _, old := range before {
		h.c.deletePodEvent(old, true)
	}
	h.c.exp.forget(h.key)
}

// checkScans fails the test if the next sync would skip a settled pod
// that matters: the invariant the unsettled-only scan relies on.
func (h *harness) checkScans() {
	h.t.Helper()
	job, err := h.c.jobLister.Jobs("default").Get("j")
	if err != nil || !h.c.scans.isClean(job.UID) {
		return
	}
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		h.t.Fatal(err)
	}
	owned, err := h.c.podIndexer.ByIndex(ownerIndex, string(job.UID))
	if err != nil {
		h.t.Fatal(err)
	}
	for _, o := range owned {
		p := o.(*corev1.Pod)
		if p.Namespace == job.Namespace && isSettled(p) && settledPodMatters(sel.Matches(labels.Set(p.Labels)), job.DeletionTimestamp != nil, job.Spec.PodFailurePolicy, p) {
			h.t.Fatalf("job marked clean, but settled pod %s matters (labels %v, phase %s)", p.Name, p.Labels, p.Status.Phase)
		}
	}
}

func (h *harness) jobStore() interface {
	Replace([]any, string) error
} {
	return h.c.jobIndexer
}

// sync refreshes the caches and runs one sync.
func (h *harness) sync() {
	h.t.Helper()
	h.refresh()
	h.checkScans()
	if h.everyPod {
		h.c.scans.forget(h.key)
	}
	if err := h.c.syncJob(context.Background(), h.key); err != nil {
		h.t.Fatalf("sync: %v", err)
	}
}

func (h *harness) job() *batchv1.Job {
	h.t.Helper()
	j, err := h.client.BatchV1().Jobs("default").Get(context.Background(), "j", metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return j
}

func (h *harness) pods() []*corev1.Pod {
	list, _ := h.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	var out []*corev1.Pod
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	return out
}

// livePods are pods not terminal and not being deleted.
func (h *harness) livePods() []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range h.pods() {
		if isActive(p) {
			out = append(out, p)
		}
	}
	return out
}

// finish sets a pod's phase with a container exit code finishing now.
func (h *harness) finish(p *corev1.Pod, code int32) {
	h.t.Helper()
	p = p.DeepCopy()
	p.Status.Phase = corev1.PodSucceeded
	if code != 0 {
		p.Status.Phase = corev1.PodFailed
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: code, FinishedAt: metav1.NewTime(h.clk.Now())},
	}}}
	h.update(p)
}

func (h *harness) update(p *corev1.Pod) {
	h.t.Helper()
	if _, err := h.client.CoreV1().Pods(p.Namespace).Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// markDeleting emulates a graceful DELETE of a pod holding finalizers.
func (h *harness) markDeleting(p *corev1.Pod) {
	p = p.DeepCopy()
	p.DeletionTimestamp = ptr.To(metav1.NewTime(h.clk.Now()))
	p.DeletionGracePeriodSeconds = ptr.To[int64](30)
	h.update(p)
}

// events drains the recorded events.
func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func newJob(mut func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "default", UID: "job-uid"},
		Spec: batchv1.JobSpec{
			Parallelism:    ptr.To[int32](1),
			Completions:    ptr.To[int32](1),
			BackoffLimit:   ptr.To[int32](6),
			CompletionMode: ptr.To(batchv1.NonIndexedCompletion),
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: "job-uid"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{batchv1.ControllerUidLabel: "job-uid", batchv1.JobNameLabel: "j"}},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "main", Image: "busybox"}},
				},
			},
		},
	}
	if mut != nil {
		mut(j)
	}
	return j
}

func condTypes(j *batchv1.Job) []string {
	var out []string
	for _, c := range j.Status.Conditions {
		out = append(out, fmt.Sprintf("%s=%s/%s", c.Type, c.Status, c.Reason))
	}
	return out
}

var podGVR = corev1.SchemeGroupVersion.WithResource("pods")

func itoa(i int) string { return fmt.Sprint(i) }

// gone finishes a deletion: the pod disappears from the store.
func (h *harness) gone(p *corev1.Pod) {
	h.t.Helper()
	if err := h.client.Tracker().Delete(podGVR, p.Namespace, p.Name); err != nil {
		h.t.Fatal(err)
	}
}

// terminating lists pods being deleted.
func (h *harness) terminatingPods() []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range h.pods() {
		if p.DeletionTimestamp != nil {
			out = append(out, p)
		}
	}
	return out
}

// restart replaces the controller by a fresh one on the same API state,
// as after a crash: expectations and backoff records are lost.
func (h *harness) restart() {
	h.t.Helper()
	c, err := NewController(h.client, informers.NewSharedInformerFactory(h.client, 0), h.clk)
	if err != nil {
		h.t.Fatal(err)
	}
	c.recorder = h.rec
	h.c = c
}

// syncErr runs one sync and returns its error.
func (h *harness) syncErr() error {
	h.refresh()
	h.checkScans()
	if h.everyPod {
		h.c.scans.forget(h.key)
	}
	return h.c.syncJob(context.Background(), h.key)
}

// generateNames makes the fake honour generateName, and gives pods UIDs.
// versionJobs gives every Job write a new integer resourceVersion, as the
// server does; the fake tracker leaves versions alone.
func versionJobs(client *fake.Clientset) {
	var rv atomic.Int64
	bump := func(a k8stesting.Action) (bool, runtime.Object, error) {
		if o, ok := a.(interface{ GetObject() runtime.Object }); ok {
			if job, ok := o.GetObject().(*batchv1.Job); ok {
				job.ResourceVersion = strconv.FormatInt(rv.Add(1), 10)
			}
		}
		return false, nil, nil
	}
	client.PrependReactor("create", "jobs", bump)
	client.PrependReactor("update", "jobs", bump)
}

func generateNames(client *fake.Clientset) {
	var n atomic.Int32
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pod := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if pod.Name == "" {
			i := n.Add(1)
			pod.Name = fmt.Sprintf("%s%05d", pod.GenerateName, i)
			pod.UID = types.UID(fmt.Sprintf("uid-%d", i))
			pod.CreationTimestamp = metav1.NewTime(t0.Add(time.Duration(i) * time.Millisecond))
		}
		return false, nil, nil
	})
}
