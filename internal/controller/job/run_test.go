package job

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// runController runs a controller on a fake clientset, as the server runs
// it (informers, queue, batching), until the test ends. poll waits for a
// condition and, on timeout, logs the pods and Job "j" of "default".
func runController(t *testing.T) (c *Controller, client *fake.Clientset, ctx context.Context, poll func(what string, cond func() bool)) {
	t.Helper()
	client = fake.NewClientset()
	generateNames(client)
	versionJobs(client)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := NewController(client, factory, clock.RealClock{})
	if err != nil {
		t.Fatal(err)
	}
	c.BatchPeriod = 5 * time.Millisecond
	factory.Start(ctx.Done())
	go c.Run(ctx, 2)
	poll = func(what string, cond func() bool) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			return cond(), nil
		}); err != nil {
			pods, _ := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
			for _, p := range pods.Items {
				t.Logf("pod %s uid %s phase %s fin %v", p.Name, p.UID, p.Status.Phase, p.Finalizers)
			}
			j, _ := client.BatchV1().Jobs("default").Get(ctx, "j", metav1.GetOptions{})
			if j != nil {
				t.Logf("job status %+v uncounted %+v", j.Status, j.Status.UncountedTerminatedPods)
			}
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	return c, client, ctx, poll
}

// TestRunCompletesJob drives the controller through its informers and
// queue, as the server runs it: event handlers, expectations, batching.
func TestRunCompletesJob(t *testing.T) {
	_, client, ctx, poll := runController(t)
	poll("watches", func() bool {
		n := 0
		for _, a := range client.Actions() {
			if a.GetVerb() == "watch" {
				n++
			}
		}
		return n >= 2
	})

	job := newJob(func(j *batchv1.Job) { j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](4), ptr.To[int32](2) })
	if _, err := client.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	created := 0
	// Act as the node: succeed every running pod, one generation at a time.
	poll("job complete", func() bool {
		pods, _ := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		live := 0
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.Name == "" {
				continue
			}
			if p.Status.Phase == "" {
				live++
				patch := []byte(`{"status":{"phase":"Succeeded"}}`)
				if _, err := client.CoreV1().Pods("default").Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
					t.Error(err)
				}
			}
		}
		if live > 2 {
			t.Errorf("%d pods running at once, parallelism 2", live)
		}
		created = len(pods.Items)
		j, _ := client.BatchV1().Jobs("default").Get(ctx, "j", metav1.GetOptions{})
		return isFinished(j)
	})
	j, _ := client.BatchV1().Jobs("default").Get(ctx, "j", metav1.GetOptions{})
	if j.Status.Succeeded != 4 || created != 4 || !hasTrueCondition(j, batchv1.JobComplete) {
		t.Fatalf("succeeded %d, pods %d, conditions %v", j.Status.Succeeded, created, condTypes(j))
	}
}

// TestSyncOnStaleJobCacheCreatesNoExtraPods: the pod cache shows a
// counted pod's finalizer gone while the Job cache still holds the Job
// from before the count was written. The sync must build on the status
// it wrote, not recount from the stale Job and replace the pod.
func TestSyncOnStaleJobCacheCreatesNoExtraPods(t *testing.T) {
	h := newHarness(t, newJob(func(j *batchv1.Job) {
		j.ResourceVersion = "1"
		j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](2), ptr.To[int32](2)
	}))
	versionJobs(h.client)
	h.sync()
	first := h.livePods()
	if len(first) != 2 {
		t.Fatalf("%d pods, want 2", len(first))
	}
	h.finish(first[0], 0)
	h.refresh()
	stale := h.job().DeepCopy()
	if err := h.c.syncJob(context.Background(), h.key); err != nil {
		t.Fatal(err)
	}
	if j := h.job(); j.Status.Succeeded != 1 {
		t.Fatalf("succeeded %d after counting, want 1", j.Status.Succeeded)
	}
	// Fresh pods, stale Job: the informer has not delivered the writes.
	pods, _ := h.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	var podObjs []any
	for i := range pods.Items {
		podObjs = append(podObjs, &pods.Items[i])
	}
	if err := h.c.podIndexer.Replace(podObjs, ""); err != nil {
		t.Fatal(err)
	}
	if err := h.jobStore().Replace([]any{stale}, ""); err != nil {
		t.Fatal(err)
	}
	h.c.exp.forget(h.key)
	if err := h.c.syncJob(context.Background(), h.key); err != nil {
		t.Fatal(err)
	}
	if n := len(h.pods()); n != 2 {
		t.Fatalf("%d pods after a sync on a stale Job, want 2 (one done, one running: one completion left)", n)
	}
	if j := h.job(); j.Status.Succeeded != 1 {
		t.Fatalf("succeeded %d, want 1", j.Status.Succeeded)
	}
}
