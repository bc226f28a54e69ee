package job

import (
	"context"
	"errors"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

func orphanPod(name string, labels map[string]string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: k8stypes.UID("uid-" + name), Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main"}}},
		Status:     corev1.PodStatus{Phase: phase},
	}
}

func TestAdoptOrphansAndReleaseNonMatching(t *testing.T) {
	// A Job with a manual selector, as after kubectl delete --cascade=orphan.
	h := newHarness(t, newJob(func(j *batchv1.Job) {
		j.Spec.ManualSelector = ptr.To(true)
		j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
		j.Spec.Template.Labels = map[string]string{"app": "pi"}
		j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](2), ptr.To[int32](2)
	}))
	ctx := context.Background()
	for _, p := range []*corev1.Pod{
		orphanPod("done", map[string]string{"app": "pi"}, corev1.PodSucceeded),
		orphanPod("other", map[string]string{"app": "web"}, corev1.PodRunning),
	} {
		if _, err := h.client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	h.sync()
	done, _ := h.client.CoreV1().Pods("default").Get(ctx, "done", metav1.GetOptions{})
	if ref := metav1.GetControllerOf(done); ref == nil || ref.UID != "job-uid" {
		t.Fatalf("not adopted: %+v", done.ObjectMeta)
	}
	adopted := false
	for _, a := range h.client.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok && p.GetName() == "done" && strings.Contains(string(p.GetPatch()), batchv1.JobTrackingFinalizer) && strings.Contains(string(p.GetPatch()), "ownerReferences") {
			adopted = true
		}
	}
	if !adopted {
		t.Fatal("adoption patch did not add the tracking finalizer")
	}
	other, _ := h.client.CoreV1().Pods("default").Get(ctx, "other", metav1.GetOptions{})
	if metav1.GetControllerOf(other) != nil {
		t.Fatal("adopted a non-matching pod")
	}
	// The adopted success counts; one more pod is created.
	h.sync()
	j := h.job()
	if j.Status.Succeeded != 1 || len(h.livePods()) != 2 {
		t.Fatalf("succeeded %d live %d", j.Status.Succeeded, len(h.livePods()))
	}
	// Release: a pod whose labels no longer match loses owner and finalizer.
	var mine *corev1.Pod
	for _, p := range h.livePods() {
		if ref := metav1.GetControllerOf(p); ref != nil && ref.UID == "job-uid" {
			mine = p.DeepCopy()
		}
	}
	mine.Labels = map[string]string{"app": "moved"}
	h.update(mine)
	h.sync()
	released, _ := h.client.CoreV1().Pods("default").Get(ctx, mine.Name, metav1.GetOptions{})
	if metav1.GetControllerOf(released) != nil || hasTrackingFinalizer(released) {
		t.Fatalf("not released: %+v", released.ObjectMeta)
	}
}

func TestOrphanFinalizerCleanup(t *testing.T) {
	h := newHarness(t, newJob(nil))
	h.sync()
	pod := h.livePods()[0]
	h.refresh()
	// The pod's Job is gone: its finalizer must go.
	if err := h.client.BatchV1().Jobs("default").Delete(context.Background(), "j", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.refresh()
	key := pod.Namespace + "/" + pod.Name
	if err := h.c.syncOrphanPod(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	p, _ := h.client.CoreV1().Pods("default").Get(context.Background(), pod.Name, metav1.GetOptions{})
	if hasTrackingFinalizer(p) {
		t.Fatal("finalizer kept on orphan")
	}
}

func TestOrphanCleanupSparesLiveJobs(t *testing.T) {
	h := newHarness(t, newJob(nil))
	h.sync()
	pod := h.livePods()[0]
	h.refresh()
	if err := h.c.syncOrphanPod(context.Background(), pod.Namespace+"/"+pod.Name); err != nil {
		t.Fatal(err)
	}
	p, _ := h.client.CoreV1().Pods("default").Get(context.Background(), pod.Name, metav1.GetOptions{})
	if !hasTrackingFinalizer(p) {
		t.Fatal("finalizer removed from a live Job's pod")
	}
}

// A crash between any two writes of the tracking protocol neither loses
// nor double-counts a pod.
func TestRestartCountsExactlyOnce(t *testing.T) {
	cases := []struct {
		name string
		fail func(h *harness) // makes one write fail, as a crash would
	}{
		{name: "crash before finalizer removal", fail: func(h *harness) {
			h.client.PrependReactor("patch", "pods", failOnce())
		}},
		{name: "crash before moving uncounted into counters", fail: func(h *harness) {
			calls := 0
			h.client.PrependReactor("update", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
				if a.GetSubresource() != "status" {
					return false, nil, nil
				}
				calls++
				if calls == 2 {
					return true, nil, errors.New("crash")
				}
				return false, nil, nil
			})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, newJob(func(j *batchv1.Job) {
				j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](3), ptr.To[int32](3)
			}))
			h.sync()
			for _, p := range h.livePods() {
				h.finish(p, 0)
			}
			tc.fail(h)
			if err := h.syncErr(); err == nil {
				t.Fatal("expected the injected failure")
			}
			h.restart()
			h.sync()
			h.restart()
			h.sync()
			j := h.job()
			wantCounts(t, j, 0, 3, 0, 0)
			wantConds(t, j, "SuccessCriteriaMet=True/CompletionsReached", "Complete=True/CompletionsReached")
			if len(j.Status.UncountedTerminatedPods.Succeeded) != 0 {
				t.Fatalf("uncounted left: %v", j.Status.UncountedTerminatedPods)
			}
		})
	}
}

func failOnce() k8stesting.ReactionFunc {
	failed := false
	return func(k8stesting.Action) (bool, runtime.Object, error) {
		if failed {
			return false, nil, nil
		}
		failed = true
		return true, nil, errors.New("crash")
	}
}

// A pod that no longer matches is released even while it terminates, as
// upstream's claim does: the release also drops the tracking finalizer,
// which nothing else would remove from a pod the Job no longer selects.
// Only a Job being deleted releases nothing.
func TestReleaseRulesFollowTheJobNotThePod(t *testing.T) {
	forBothScans(t, func(t *testing.T, everyPod bool) {
		h := newHarness(t, newJob(nil))
		h.everyPod = everyPod
		h.sync()
		name := h.livePods()[0].Name
		h.markDeleting(h.get(name))
		h.unlabel(name)
		h.sync()
		p := h.get(name)
		if metav1.GetControllerOf(p) != nil || hasTrackingFinalizer(p) {
			t.Fatalf("terminating pod not released: %+v", p.ObjectMeta)
		}
	})
	// A counted pod, which syncs no longer read, relabelled while it
	// terminates.
	forBothScans(t, func(t *testing.T, everyPod bool) {
		h := newHarness(t, newJob(func(j *batchv1.Job) { j.Spec.Completions = ptr.To[int32](2) }))
		h.everyPod = everyPod
		h.sync()
		name := h.livePods()[0].Name
		h.finish(h.get(name), 0)
		h.sync()
		h.sync()
		h.wantSkipping()
		h.markDeleting(h.get(name))
		h.unlabel(name)
		h.sync()
		if ref := metav1.GetControllerOf(h.get(name)); ref != nil {
			t.Fatalf("terminating counted pod not released: %+v", h.get(name).OwnerReferences)
		}
		wantCounts(t, h.job(), 1, 1, 0, 0)
	})
	forBothScans(t, func(t *testing.T, everyPod bool) {
		h := newHarness(t, newJob(nil))
		h.everyPod = everyPod
		h.sync()
		name := h.livePods()[0].Name
		j := h.job().DeepCopy()
		j.DeletionTimestamp = ptr.To(metav1.NewTime(h.clk.Now()))
		j.Finalizers = []string{metav1.FinalizerDeleteDependents}
		if _, err := h.client.BatchV1().Jobs("default").Update(context.Background(), j, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		h.unlabel(name)
		h.sync()
		if n := releasePatches(h, name); n != 0 {
			t.Fatalf("%d release patches for the pod of a Job being deleted, want 0", n)
		}
	})
}
