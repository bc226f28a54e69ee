package job

import (
	"context"
	"sort"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestCompletionsWithParallelism(t *testing.T) {
	h := newHarness(t, newJob(func(j *batchv1.Job) {
		j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](6), ptr.To[int32](2)
	}))
	for round := 0; round < 3; round++ {
		h.sync()
		live := h.livePods()
		if len(live) != 2 {
			t.Fatalf("round %d: %d live pods, want 2", round, len(live))
		}
		for _, p := range live {
			h.finish(p, 0)
		}
	}
	h.sync()
	j := h.job()
	wantCounts(t, j, 0, 6, 0, 0)
	wantConds(t, j, "SuccessCriteriaMet=True/CompletionsReached", "Complete=True/CompletionsReached")
	if c := j.Status.Conditions[1]; c.Message != msgCompletionsReached || !j.Status.CompletionTime.Equal(&c.LastTransitionTime) {
		t.Fatalf("complete condition %+v, completionTime %v", c, j.Status.CompletionTime)
	}
	if n := len(h.pods()); n != 6 {
		t.Fatalf("%d pods created, want 6", n)
	}
}

func TestWorkQueue(t *testing.T) {
	h := newHarness(t, newJob(func(j *batchv1.Job) { j.Spec.Completions, j.Spec.Parallelism = nil, ptr.To[int32](3) }))
	h.sync()
	live := h.livePods()
	if len(live) != 3 {
		t.Fatalf("%d pods", len(live))
	}
	h.finish(live[0], 0)
	h.sync()
	if n := len(h.pods()); n != 3 {
		t.Fatalf("new pods after first success: %d", n)
	}
	wantConds(t, h.job())
	h.finish(live[1], 0)
	h.finish(live[2], 0)
	h.sync()
	j := h.job()
	wantCounts(t, j, 0, 3, 0, 0)
	wantConds(t, j, "SuccessCriteriaMet=True/CompletionsReached", "Complete=True/CompletionsReached")
}

func TestParallelismZeroAndLiveChange(t *testing.T) {
	job := newJob(func(j *batchv1.Job) { j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](5), ptr.To[int32](0) })
	h := newHarness(t, job)
	h.sync()
	if n := len(h.pods()); n != 0 {
		t.Fatalf("parallelism 0 created %d pods", n)
	}
	j := h.job()
	j.Spec.Parallelism = ptr.To[int32](3)
	if _, err := h.client.BatchV1().Jobs("default").Update(context.Background(), j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if n := len(h.livePods()); n != 3 {
		t.Fatalf("%d pods after raising parallelism", n)
	}
	j = h.job()
	j.Spec.Parallelism = ptr.To[int32](1)
	if _, err := h.client.BatchV1().Jobs("default").Update(context.Background(), j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if n := len(h.livePods()); n != 1 {
		t.Fatalf("%d live pods after lowering parallelism", n)
	}
	h.sync()
	j = h.job()
	// Scale-down deletions are not failures.
	wantCounts(t, j, 1, 0, 0, 2)
}

func TestSuspendResume(t *testing.T) {
	h := newHarness(t, newJob(func(j *batchv1.Job) {
		j.Spec.Suspend = ptr.To(true)
		j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](2), ptr.To[int32](2)
	}))
	h.sync()
	j := h.job()
	if len(h.pods()) != 0 || j.Status.StartTime != nil {
		t.Fatal("suspended job started")
	}
	wantConds(t, j, "Suspended=True/JobSuspended")
	if ev := h.events(); !hasEvent(ev, "Normal Suspended Job suspended") {
		t.Fatalf("events %v", ev)
	}

	h.clk.Step(time.Minute)
	j.Spec.Suspend = ptr.To(false)
	if _, err := h.client.BatchV1().Jobs("default").Update(context.Background(), j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.sync()
	j = h.job()
	wantConds(t, j, "Suspended=False/JobResumed")
	if len(h.livePods()) != 2 || !j.Status.StartTime.Time.Equal(t0.Add(time.Minute)) {
		t.Fatalf("resume: pods %d startTime %v", len(h.livePods()), j.Status.StartTime)
	}
	if ev := h.events(); !hasEvent(ev, "Normal Resumed Job resumed") {
		t.Fatalf("events %v", ev)
	}

	// Suspend while pods run: they are deleted and not counted.
	h.clk.Step(time.Minute)
	j.Spec.Suspend = ptr.To(true)
	if _, err := h.client.BatchV1().Jobs("default").Update(context.Background(), j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.sync()
	j = h.job()
	wantConds(t, j, "Suspended=True/JobSuspended")
	wantCounts(t, j, 0, 0, 0, 2)
	for _, p := range h.terminatingPods() {
		if hasTrackingFinalizer(p) {
			t.Fatal("suspend kept the tracking finalizer")
		}
		h.gone(p)
	}
	h.sync()
	wantCounts(t, h.job(), 0, 0, 0, 0)

	// Resume again: startTime reset, so the deadline clock restarts.
	h.clk.Step(time.Hour)
	j = h.job()
	j.Spec.Suspend = ptr.To(false)
	if _, err := h.client.BatchV1().Jobs("default").Update(context.Background(), j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if j = h.job(); !j.Status.StartTime.Time.Equal(h.clk.Now()) {
		t.Fatalf("startTime %v", j.Status.StartTime)
	}
}

func TestOnFailureRestartsCountAgainstBackoffLimit(t *testing.T) {
	h := newHarness(t, newJob(func(j *batchv1.Job) {
		j.Spec.BackoffLimit = ptr.To[int32](2)
		j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	}))
	h.sync()
	p := h.livePods()[0].DeepCopy()
	p.Status.Phase = corev1.PodRunning
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", RestartCount: 1}}
	h.update(p)
	h.sync()
	wantConds(t, h.job())
	if len(h.pods()) != 1 {
		t.Fatal("OnFailure restart created a new pod")
	}
	p = h.livePods()[0].DeepCopy()
	p.Status.ContainerStatuses[0].RestartCount = 2
	h.update(p)
	h.sync()
	j := h.job()
	wantConds(t, j, "FailureTarget=True/BackoffLimitExceeded")
	wantCounts(t, j, 0, 0, 1, 1)
	h.gone(h.terminatingPods()[0])
	h.sync()
	wantConds(t, h.job(), "FailureTarget=True/BackoffLimitExceeded", "Failed=True/BackoffLimitExceeded")
}

func TestPodFailurePolicyFailJob(t *testing.T) {
	h := newHarness(t, newJob(func(j *batchv1.Job) {
		j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](2), ptr.To[int32](2)
		j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
			Action:      batchv1.PodFailurePolicyActionFailJob,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{ContainerName: ptr.To("main"), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}},
		}}}
	}))
	h.sync()
	live := h.livePods()
	h.finish(live[0], 42)
	h.sync()
	j := h.job()
	wantConds(t, j, "FailureTarget=True/PodFailurePolicy")
	wantCounts(t, j, 0, 0, 2, 1)
	msg := "Container main for pod default/" + live[0].Name + " failed with exit code 42 matching FailJob rule at index 0"
	if j.Status.Conditions[0].Message != msg {
		t.Fatalf("message %q", j.Status.Conditions[0].Message)
	}
	h.gone(h.terminatingPods()[0])
	h.sync()
	j = h.job()
	wantConds(t, j, "FailureTarget=True/PodFailurePolicy", "Failed=True/PodFailurePolicy")
	if ev := h.events(); !hasEvent(ev, "Warning PodFailurePolicy "+msg) {
		t.Fatalf("events %v", ev)
	}
}

func TestPodFailurePolicyIgnoreDisruption(t *testing.T) {
	h := newHarness(t, newJob(func(j *batchv1.Job) {
		j.Spec.BackoffLimit = ptr.To[int32](0)
		j.Spec.PodReplacementPolicy = ptr.To(batchv1.Failed)
		j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
			Action:          batchv1.PodFailurePolicyActionIgnore,
			OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
		}}}
	}))
	h.sync()
	p := h.livePods()[0].DeepCopy()
	// Evicted: marked for deletion with DisruptionTarget, then Failed.
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI"}}
	h.update(p)
	h.markDeleting(h.livePods()[0])
	h.sync()
	j := h.job()
	wantCounts(t, j, 0, 0, 0, 1)
	if len(h.livePods()) != 0 {
		t.Fatal("replacement created before the pod failed (podReplacementPolicy Failed)")
	}
	h.finish(h.terminatingPods()[0], 137)
	p = h.terminatingPods()[0].DeepCopy()
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}
	h.update(p)
	h.sync()
	j = h.job()
	wantConds(t, j)
	// Not counted as a failure, but like upstream it feeds the backoff.
	wantCounts(t, j, 0, 0, 0, 0)
	h.clk.Step(10 * time.Second)
	h.sync()
	live := h.livePods()
	if len(live) != 1 {
		t.Fatalf("live %d", len(live))
	}
	h.finish(live[0], 0)
	h.sync()
	j = h.job()
	wantCounts(t, j, 0, 1, 0, 0)
	wantConds(t, j, "SuccessCriteriaMet=True/CompletionsReached", "Complete=True/CompletionsReached")
}

func TestTerminatingOrFailedCountsDeletedPodAtOnce(t *testing.T) {
	h := newHarness(t, newJob(nil))
	h.sync()
	h.markDeleting(h.livePods()[0])
	h.sync()
	j := h.job()
	if j.Status.Failed != 1 || ptr.Deref(j.Status.Terminating, 0) != 1 {
		t.Fatalf("status %+v", j.Status)
	}
	h.clk.Step(10 * time.Second)
	h.sync()
	if len(h.livePods()) != 1 {
		t.Fatal("no replacement")
	}
	// The deleted pod succeeding later changes nothing.
	old := h.terminatingPods()[0]
	h.finish(old, 0)
	h.sync()
	if j := h.job(); j.Status.Failed != 1 || j.Status.Succeeded != 0 {
		t.Fatalf("status %+v", j.Status)
	}
}

func TestDeadlineDuringBackoff(t *testing.T) {
	h := newHarness(t, newJob(func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To[int64](15) }))
	h.sync()
	h.clk.Step(5 * time.Second)
	h.finish(h.livePods()[0], 1)
	h.sync()
	if len(h.livePods()) != 0 {
		t.Fatal("created during backoff")
	}
	h.clk.Step(10 * time.Second)
	h.sync()
	j := h.job()
	wantConds(t, j, "FailureTarget=True/DeadlineExceeded", "Failed=True/DeadlineExceeded")
	wantCounts(t, j, 0, 0, 1, 0)
	if len(h.livePods()) != 0 {
		t.Fatal("pod created after deadline")
	}
}

func TestDeadlineBeatsBackoffLimitOnlyByOrder(t *testing.T) {
	// Both hit in one pass: backoffLimit is checked first.
	h := newHarness(t, newJob(func(j *batchv1.Job) {
		j.Spec.ActiveDeadlineSeconds = ptr.To[int64](5)
		j.Spec.BackoffLimit = ptr.To[int32](0)
	}))
	h.sync()
	h.clk.Step(6 * time.Second)
	h.finish(h.livePods()[0], 1)
	h.sync()
	wantConds(t, h.job(), "FailureTarget=True/BackoffLimitExceeded", "Failed=True/BackoffLimitExceeded")
}

func indexedJob(completions, parallelism int32, mut func(*batchv1.Job)) *batchv1.Job {
	return newJob(func(j *batchv1.Job) {
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		j.Spec.Completions, j.Spec.Parallelism = ptr.To(completions), ptr.To(parallelism)
		if mut != nil {
			mut(j)
		}
	})
}

func podsByIndex(pods []*corev1.Pod) map[int]*corev1.Pod {
	out := map[int]*corev1.Pod{}
	for _, p := range pods {
		out[completionIndex(p)] = p
	}
	return out
}

func TestBackoffLimitPerIndex(t *testing.T) {
	h := newHarness(t, indexedJob(4, 4, func(j *batchv1.Job) {
		j.Spec.BackoffLimitPerIndex = ptr.To[int32](1)
		j.Spec.BackoffLimit = ptr.To[int32](2147483647)
	}))
	h.sync()
	byIx := podsByIndex(h.livePods())
	for ix, p := range byIx {
		if p.Annotations[batchv1.JobIndexFailureCountAnnotation] != "0" {
			t.Fatalf("index %d failure count %q", ix, p.Annotations[batchv1.JobIndexFailureCountAnnotation])
		}
		h.finish(p, map[int]int32{0: 0, 1: 1, 2: 0, 3: 1}[ix])
	}
	h.sync()
	// Failed pods keep their finalizer until replaced; replacements wait 10s.
	if len(h.livePods()) != 0 {
		t.Fatal("replacement during per-index backoff")
	}
	h.clk.Step(10 * time.Second)
	h.sync()
	byIx = podsByIndex(h.livePods())
	if len(byIx) != 2 || byIx[1] == nil || byIx[3] == nil || byIx[1].Annotations[batchv1.JobIndexFailureCountAnnotation] != "1" {
		t.Fatalf("replacements %v", byIx)
	}
	h.finish(byIx[1], 1)
	h.finish(byIx[3], 1)
	h.sync()
	j := h.job()
	wantConds(t, j, "FailureTarget=True/FailedIndexes", "Failed=True/FailedIndexes")
	if j.Status.CompletedIndexes != "0,2" || ptr.Deref(j.Status.FailedIndexes, "") != "1,3" || j.Status.Failed != 4 || j.Status.Succeeded != 2 {
		t.Fatalf("status completed %q failed %v counts %d/%d", j.Status.CompletedIndexes, j.Status.FailedIndexes, j.Status.Succeeded, j.Status.Failed)
	}
}

func TestFailIndexWithMaxFailedIndexes(t *testing.T) {
	h := newHarness(t, indexedJob(3, 3, func(j *batchv1.Job) {
		j.Spec.BackoffLimitPerIndex = ptr.To[int32](5)
		j.Spec.MaxFailedIndexes = ptr.To[int32](1)
		j.Spec.BackoffLimit = ptr.To[int32](2147483647)
		j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
			Action:      batchv1.PodFailurePolicyActionFailIndex,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{3}},
		}}}
	}))
	h.sync()
	byIx := podsByIndex(h.livePods())
	h.finish(byIx[1], 3)
	h.sync()
	j := h.job()
	wantConds(t, j)
	if ptr.Deref(j.Status.FailedIndexes, "") != "1" || j.Status.Failed != 1 {
		t.Fatalf("failedIndexes %v failed %d", j.Status.FailedIndexes, j.Status.Failed)
	}
	h.clk.Step(time.Hour)
	h.sync()
	if len(h.livePods()) != 2 {
		t.Fatal("FailIndex index was retried")
	}
	h.finish(byIx[2], 3)
	h.sync()
	j = h.job()
	wantConds(t, j, "FailureTarget=True/MaxFailedIndexesExceeded")
	for _, p := range h.terminatingPods() {
		h.gone(p)
	}
	h.sync()
	j = h.job()
	wantConds(t, j, "FailureTarget=True/MaxFailedIndexesExceeded", "Failed=True/MaxFailedIndexesExceeded")
	if ptr.Deref(j.Status.FailedIndexes, "") != "1,2" || j.Status.Failed != 3 {
		t.Fatalf("failedIndexes %v failed %d", j.Status.FailedIndexes, j.Status.Failed)
	}
}

func TestSuccessPolicyWithFailures(t *testing.T) {
	h := newHarness(t, indexedJob(4, 2, func(j *batchv1.Job) {
		j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr.To[int32](2)}}}
	}))
	h.sync()
	byIx := podsByIndex(h.livePods())
	h.finish(byIx[0], 1)
	h.finish(byIx[1], 0)
	h.sync()
	h.clk.Step(10 * time.Second)
	h.sync()
	byIx = podsByIndex(h.livePods())
	if byIx[0] == nil || byIx[2] == nil {
		t.Fatalf("indexes %v", byIx)
	}
	h.finish(byIx[2], 0)
	h.sync()
	j := h.job()
	wantConds(t, j, "SuccessCriteriaMet=True/SuccessPolicy")
	if j.Status.CompletedIndexes != "1,2" || j.Status.Failed != 1 {
		t.Fatalf("completed %q failed %d", j.Status.CompletedIndexes, j.Status.Failed)
	}
	for _, p := range h.terminatingPods() {
		h.gone(p)
	}
	h.sync()
	j = h.job()
	wantConds(t, j, "SuccessCriteriaMet=True/SuccessPolicy", "Complete=True/SuccessPolicy")
	wantCounts(t, j, 0, 2, 1, 0)
}

func TestIndexedDuplicatesCountOnce(t *testing.T) {
	h := newHarness(t, indexedJob(2, 2, nil))
	h.sync()
	byIx := podsByIndex(h.livePods())
	// A second pod for index 0, as after a lost watch event.
	dup := newPod(h.job(), 0, nil)
	dup.Name, dup.UID = "j-0-dup", "dup-uid"
	if _, err := h.client.CoreV1().Pods("default").Create(context.Background(), dup, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.finish(byIx[0], 0)
	dupPod, _ := h.client.CoreV1().Pods("default").Get(context.Background(), "j-0-dup", metav1.GetOptions{})
	h.finish(dupPod, 0)
	h.finish(byIx[1], 0)
	h.sync()
	j := h.job()
	wantCounts(t, j, 0, 2, 0, 0)
	if j.Status.CompletedIndexes != "0,1" {
		t.Fatalf("completed %q", j.Status.CompletedIndexes)
	}
	wantConds(t, j, "SuccessCriteriaMet=True/CompletionsReached", "Complete=True/CompletionsReached")
}

func TestIndexedDuplicateActiveDeleted(t *testing.T) {
	h := newHarness(t, indexedJob(2, 2, nil))
	h.sync()
	dup := newPod(h.job(), 1, nil)
	dup.Name, dup.UID = "j-1-dup", "dup-uid"
	if _, err := h.client.CoreV1().Pods("default").Create(context.Background(), dup, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if n := len(h.terminatingPods()); n != 1 {
		t.Fatalf("%d pods deleted, want the duplicate", n)
	}
}

func TestElasticIndexedScaleDown(t *testing.T) {
	h := newHarness(t, indexedJob(4, 4, nil))
	h.sync()
	byIx := podsByIndex(h.livePods())
	h.finish(byIx[3], 0)
	h.sync()
	if j := h.job(); j.Status.CompletedIndexes != "3" {
		t.Fatalf("completed %q", j.Status.CompletedIndexes)
	}
	j := h.job()
	j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](2), ptr.To[int32](2)
	if _, err := h.client.BatchV1().Jobs("default").Update(context.Background(), j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.sync()
	var gone []int
	for _, p := range h.terminatingPods() {
		gone = append(gone, completionIndex(p))
	}
	sort.Ints(gone)
	if len(gone) != 1 || gone[0] != 2 {
		t.Fatalf("deleted indexes %v, want [2]", gone)
	}
	j = h.job()
	if j.Status.CompletedIndexes != "" || j.Status.Succeeded != 0 {
		t.Fatalf("completed %q succeeded %d after scale-down", j.Status.CompletedIndexes, j.Status.Succeeded)
	}
}

func TestManagedByOtherController(t *testing.T) {
	h := newHarness(t, newJob(func(j *batchv1.Job) { j.Spec.ManagedBy = ptr.To("example.com/other") }))
	h.client.ClearActions()
	h.sync()
	for _, a := range h.client.Actions() {
		if a.GetVerb() != "list" {
			t.Fatalf("acted on a Job managed elsewhere: %v", a)
		}
	}
}

func TestUnknownCompletionMode(t *testing.T) {
	h := newHarness(t, newJob(func(j *batchv1.Job) { j.Spec.CompletionMode = ptr.To[batchv1.CompletionMode]("Odd") }))
	h.sync()
	if len(h.pods()) != 0 {
		t.Fatal("created pods")
	}
	if ev := h.events(); !hasEvent(ev, "Warning UnknownCompletionMode Skipped Job sync because completion mode is unknown") {
		t.Fatalf("events %v", ev)
	}
}

func TestPodReplacementPolicyFailed(t *testing.T) {
	h := newHarness(t, newJob(func(j *batchv1.Job) { j.Spec.PodReplacementPolicy = ptr.To(batchv1.Failed) }))
	h.sync()
	h.markDeleting(h.livePods()[0])
	h.sync()
	wantCounts(t, h.job(), 0, 0, 0, 1)
	if len(h.livePods()) != 0 {
		t.Fatal("replaced a pod still terminating")
	}
	h.finish(h.terminatingPods()[0], 143)
	h.sync()
	wantCounts(t, h.job(), 0, 0, 1, 0)
	h.clk.Step(10 * time.Second)
	h.sync()
	wantCounts(t, h.job(), 1, 0, 1, 0)
}

func TestReadyCount(t *testing.T) {
	h := newHarness(t, newJob(func(j *batchv1.Job) { j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](3), ptr.To[int32](3) }))
	h.sync()
	if r := h.job().Status.Ready; r == nil || *r != 0 {
		t.Fatalf("ready %v", r)
	}
	for _, p := range h.livePods()[:2] {
		p = p.DeepCopy()
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		h.update(p)
	}
	h.sync()
	if r := h.job().Status.Ready; *r != 2 {
		t.Fatalf("ready %d, want 2", *r)
	}
}
