package job

import (
	"context"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// Tests of syncs that skip settled pods (terminal, tracking finalizer
// gone). Each runs twice: skipping them, and reading every pod as the
// controller did before; both must give the same result.
func forBothScans(t *testing.T, run func(t *testing.T, everyPod bool)) {
	t.Helper()
	for _, everyPod := range []bool{false, true} {
		name := "unsettled-only"
		if everyPod {
			name = "every-pod"
		}
		t.Run(name, func(t *testing.T) { run(t, everyPod) })
	}
}

func (h *harness) get(name string) *corev1.Pod {
	h.t.Helper()
	p, err := h.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// wantSkipping fails unless the next sync reads only unsettled pods, so
// that a test goes on to exercise the skipping path.
func (h *harness) wantSkipping() {
	h.t.Helper()
	if !h.everyPod && !h.c.scans.isClean("job-uid") {
		h.t.Fatal("syncs still read every pod")
	}
}

func releasePatches(h *harness, name string) int {
	n := 0
	for _, a := range h.client.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok && p.GetName() == name && strings.Contains(string(p.GetPatch()), `"$patch":"delete"`) {
			n++
		}
	}
	return n
}

// unlabel removes the label the generated selector matches on.
func (h *harness) unlabel(name string) {
	h.t.Helper()
	p := h.get(name).DeepCopy()
	delete(p.Labels, batchv1.ControllerUidLabel)
	h.update(p)
}

// A user relabels a counted pod of a running Job: like upstream, the
// next sync releases it, and only once.
func TestRelabelledCountedPodReleased(t *testing.T) {
	forBothScans(t, func(t *testing.T, everyPod bool) {
		h := newHarness(t, newJob(func(j *batchv1.Job) { j.Spec.Completions = ptr.To[int32](2) }))
		h.everyPod = everyPod
		h.sync()
		first := h.livePods()[0].Name
		h.finish(h.get(first), 0)
		h.sync()
		h.sync()
		if hasTrackingFinalizer(h.get(first)) || h.job().Status.Succeeded != 1 {
			t.Fatal("first pod not counted")
		}
		h.wantSkipping()
		h.unlabel(first)
		h.sync()
		if ref := metav1.GetControllerOf(h.get(first)); ref != nil {
			t.Fatalf("counted pod not released: %+v", h.get(first).OwnerReferences)
		}
		h.sync()
		if n := releasePatches(h, first); n != 1 {
			t.Fatalf("%d release patches, want 1", n)
		}
		wantCounts(t, h.job(), 1, 1, 0, 0)
		h.wantSkipping()
	})
}

// The relabelling happens while the controller is down: the restarted
// controller has seen no update event, and must still release the pod.
// The counted indexes come from the status: none is run again.
func TestRestartWithCountedIndexedPods(t *testing.T) {
	forBothScans(t, func(t *testing.T, everyPod bool) {
		h := newHarness(t, indexedJob(6, 2, nil))
		h.everyPod = everyPod
		var idx0 string
		for round := 0; round < 2; round++ {
			h.sync()
			for _, p := range h.livePods() {
				if completionIndex(p) == 0 {
					idx0 = p.Name
				}
				h.finish(p, 0)
			}
		}
		h.sync()
		h.sync()
		if j := h.job(); j.Status.CompletedIndexes != "0-3" {
			t.Fatalf("completed %q", j.Status.CompletedIndexes)
		}
		h.wantSkipping()
		h.restart()
		h.unlabel(idx0)
		h.sync()
		if metav1.GetControllerOf(h.get(idx0)) != nil {
			t.Fatal("pod relabelled during the restart not released")
		}
		live := podsByIndex(h.livePods())
		if len(live) != 2 || live[4] == nil || live[5] == nil {
			t.Fatalf("live indexes after restart %v", live)
		}
		for _, p := range live {
			h.finish(p, 0)
		}
		h.sync()
		j := h.job()
		if j.Status.CompletedIndexes != "0-5" || len(h.pods()) != 6 {
			t.Fatalf("completed %q, %d pods", j.Status.CompletedIndexes, len(h.pods()))
		}
		wantCounts(t, j, 0, 6, 0, 0)
		wantConds(t, j, "SuccessCriteriaMet=True/CompletionsReached", "Complete=True/CompletionsReached")
	})
}

// A FailJob pod counted by a sync that could not add FailureTarget (a
// creation still expected) fails the Job on the next sync, although its
// finalizer is gone: upstream's getFailJobMessage reads every pod.
func TestCountedFailJobPodFailsJob(t *testing.T) {
	forBothScans(t, func(t *testing.T, everyPod bool) {
		h := newHarness(t, newJob(func(j *batchv1.Job) {
			j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](2), ptr.To[int32](2)
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action:      batchv1.PodFailurePolicyActionFailJob,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}},
			}}}
		}))
		h.everyPod = everyPod
		h.sync()
		h.sync()
		h.wantSkipping()
		failed := h.livePods()[0].Name
		h.finish(h.get(failed), 42)
		h.refresh()
		h.c.exp.expect(h.key, 1, 0)
		if everyPod {
			h.c.scans.forget(h.key)
		}
		if err := h.c.syncJob(context.Background(), h.key); err != nil {
			t.Fatal(err)
		}
		j := h.job()
		wantConds(t, j)
		if hasTrackingFinalizer(h.get(failed)) || j.Status.Failed != 1 {
			t.Fatalf("failed pod not counted: failed %d", j.Status.Failed)
		}
		h.sync()
		msg := "Container main for pod default/" + failed + " failed with exit code 42 matching FailJob rule at index 0"
		j = h.job()
		wantConds(t, j, "FailureTarget=True/PodFailurePolicy")
		if j.Status.Conditions[0].Message != msg {
			t.Fatalf("message %q", j.Status.Conditions[0].Message)
		}
		for _, p := range h.terminatingPods() {
			h.gone(p)
		}
		h.sync()
		wantConds(t, h.job(), "FailureTarget=True/PodFailurePolicy", "Failed=True/PodFailurePolicy")
	})
}

// New pods for an index counted long ago: a success adds nothing, a
// failure counts; the counted pod itself is never read.
func TestIndexedCountedPodAndNewDuplicates(t *testing.T) {
	forBothScans(t, func(t *testing.T, everyPod bool) {
		h := newHarness(t, indexedJob(3, 3, nil))
		h.everyPod = everyPod
		h.sync()
		byIx := podsByIndex(h.livePods())
		h.finish(byIx[0], 0)
		h.sync()
		h.sync()
		h.wantSkipping()
		for name, code := range map[string]int32{"j-0-dup-ok": 0, "j-0-dup-bad": 1} {
			dup := newPod(h.job(), 0, nil)
			dup.Name, dup.UID = name, types.UID(name)
			if _, err := h.client.CoreV1().Pods("default").Create(context.Background(), dup, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			h.finish(h.get(name), code)
		}
		h.sync()
		j := h.job()
		if j.Status.CompletedIndexes != "0" {
			t.Fatalf("completed %q", j.Status.CompletedIndexes)
		}
		wantCounts(t, j, 2, 1, 1, 0)
		for _, name := range []string{"j-0-dup-ok", "j-0-dup-bad"} {
			if hasTrackingFinalizer(h.get(name)) {
				t.Fatalf("%s keeps its finalizer", name)
			}
		}
		h.finish(byIx[1], 0)
		h.finish(byIx[2], 0)
		h.sync()
		j = h.job()
		wantCounts(t, j, 0, 3, 1, 0)
		wantConds(t, j, "SuccessCriteriaMet=True/CompletionsReached", "Complete=True/CompletionsReached")
	})
}

// A counted pod given its tracking finalizer back is unsettled again and
// counted again, as upstream does; one deleted by a user changes nothing.
func TestCountedPodRegainsFinalizerOrIsDeleted(t *testing.T) {
	forBothScans(t, func(t *testing.T, everyPod bool) {
		h := newHarness(t, newJob(func(j *batchv1.Job) { j.Spec.Completions = ptr.To[int32](4) }))
		h.everyPod = everyPod
		var done []string
		for i := 0; i < 2; i++ {
			h.sync()
			p := h.livePods()[0]
			done = append(done, p.Name)
			h.finish(p, 0)
		}
		h.sync()
		h.sync()
		wantCounts(t, h.job(), 1, 2, 0, 0)
		h.wantSkipping()
		h.gone(h.get(done[1]))
		h.sync()
		wantCounts(t, h.job(), 1, 2, 0, 0)
		p := h.get(done[0]).DeepCopy()
		p.Finalizers = append(p.Finalizers, batchv1.JobTrackingFinalizer)
		h.update(p)
		h.sync()
		wantCounts(t, h.job(), 1, 3, 0, 0)
		if hasTrackingFinalizer(h.get(done[0])) {
			t.Fatal("finalizer not removed again")
		}
		if n := len(h.pods()); n != 2 {
			t.Fatalf("%d pods, want 2: the re-counted one and one running", n)
		}
	})
}

// An event that shows a settled pod that matters, arriving while a full
// scan runs, keeps the Job on full scans.
func TestPodScansEventDuringFullScan(t *testing.T) {
	job := newJob(nil)
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	s := newPodScans()
	pod := newPod(job, noIndex, nil)
	pod.Namespace, pod.Finalizers, pod.Status.Phase = "default", nil, corev1.PodSucceeded
	pod.Labels = map[string]string{"other": "x"}

	full, epoch := s.begin("default/j", job, sel)
	if !full {
		t.Fatal("first sync must read every pod")
	}
	s.noteSettled(pod)
	s.scanned(job.UID, epoch)
	if full, _ = s.begin("default/j", job, sel); !full {
		t.Fatal("event during the scan lost")
	}

	// A settled pod that still matches and did not fail changes nothing.
	_, epoch = s.begin("default/j", job, sel)
	s.scanned(job.UID, epoch)
	pod.Labels = job.Spec.Template.Labels
	s.noteSettled(pod)
	if full, _ = s.begin("default/j", job, sel); full {
		t.Fatal("a matching settled pod forced a full scan")
	}
	if !sel.Matches(labels.Set(pod.Labels)) {
		t.Fatal("test pod should match")
	}
	// The same Job name with a new UID starts over.
	recreated := job.DeepCopy()
	recreated.UID = "new-uid"
	if full, _ = s.begin("default/j", recreated, sel); !full {
		t.Fatal("recreated Job skipped settled pods")
	}
	if s.isClean(job.UID) || len(s.jobs) != 1 {
		t.Fatalf("old entry kept: %d entries", len(s.jobs))
	}
}

// TestRunReleasesRelabelledCountedPod goes through real informers and
// the queue: the update event of a counted pod, not a scan of every pod,
// must bring the release.
func TestRunReleasesRelabelledCountedPod(t *testing.T) {
	c, client, ctx, poll := runController(t)
	pods := func() []corev1.Pod {
		list, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return list.Items
	}
	getJob := func() *batchv1.Job {
		j, err := client.BatchV1().Jobs("default").Get(ctx, "j", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	poll("watches", func() bool {
		n := 0
		for _, a := range client.Actions() {
			if a.GetVerb() == "watch" {
				n++
			}
		}
		return n >= 2
	})
	if _, err := client.BatchV1().Jobs("default").Create(ctx, newJob(func(j *batchv1.Job) { j.Spec.Completions = ptr.To[int32](2) }), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll("first pod", func() bool { return len(pods()) == 1 })
	first := pods()[0].Name
	if _, err := client.CoreV1().Pods("default").Patch(ctx, first, types.MergePatchType, []byte(`{"status":{"phase":"Succeeded"}}`), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}
	poll("first pod counted, second created, settled pods skipped", func() bool {
		return getJob().Status.Succeeded == 1 && len(pods()) == 2 && c.scans.isClean("job-uid")
	})
	unlabel := []byte(`{"metadata":{"labels":{"` + batchv1.ControllerUidLabel + `":null}}}`)
	if _, err := client.CoreV1().Pods("default").Patch(ctx, first, types.MergePatchType, unlabel, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	poll("counted pod released", func() bool {
		p, err := client.CoreV1().Pods("default").Get(ctx, first, metav1.GetOptions{})
		return err == nil && metav1.GetControllerOf(p) == nil
	})
	for _, p := range pods() {
		if p.Name != first {
			if _, err := client.CoreV1().Pods("default").Patch(ctx, p.Name, types.MergePatchType, []byte(`{"status":{"phase":"Succeeded"}}`), metav1.PatchOptions{}, "status"); err != nil {
				t.Fatal(err)
			}
		}
	}
	poll("job complete", func() bool { return isFinished(getJob()) })
	if j := getJob(); j.Status.Succeeded != 2 || len(pods()) != 2 {
		t.Fatalf("succeeded %d, %d pods", j.Status.Succeeded, len(pods()))
	}
}
