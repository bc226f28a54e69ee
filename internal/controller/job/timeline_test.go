package job

import (
	"reflect"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/utils/ptr"
)

func wantConds(t *testing.T, j *batchv1.Job, want ...string) {
	t.Helper()
	if got := condTypes(j); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("conditions = %v, want %v", got, want)
	}
}

func wantCounts(t *testing.T, j *batchv1.Job, active, succeeded, failed, terminating int32) {
	t.Helper()
	st := j.Status
	if st.Active != active || st.Succeeded != succeeded || st.Failed != failed || ptr.Deref(st.Terminating, -1) != terminating {
		t.Fatalf("active/succeeded/failed/terminating = %d/%d/%d/%d, want %d/%d/%d/%d",
			st.Active, st.Succeeded, st.Failed, ptr.Deref(st.Terminating, -1), active, succeeded, failed, terminating)
	}
}

func hasEvent(events []string, want string) bool {
	for _, e := range events {
		if strings.HasPrefix(e, want) {
			return true
		}
	}
	return false
}

// Job A of the reference timelines: backoffLimit 1, every pod exits 1.
func TestTimelineBackoffLimitExceeded(t *testing.T) {
	h := newHarness(t, newJob(func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr.To[int32](1) }))
	h.sync()
	j := h.job()
	if j.Status.StartTime == nil || !j.Status.StartTime.Time.Equal(t0) {
		t.Fatalf("startTime = %v", j.Status.StartTime)
	}
	wantCounts(t, j, 1, 0, 0, 0)
	pods := h.livePods()
	if len(pods) != 1 {
		t.Fatalf("pods = %d", len(pods))
	}
	p := pods[0]
	if !hasTrackingFinalizer(p) || p.GenerateName != "j-" || p.OwnerReferences[0].UID != "job-uid" || !*p.OwnerReferences[0].Controller {
		t.Fatalf("bad pod %+v", p.ObjectMeta)
	}
	if ev := h.events(); !hasEvent(ev, "Normal SuccessfulCreate Created pod: j-") {
		t.Fatalf("events %v", ev)
	}

	h.clk.Step(time.Second)
	h.finish(p, 1)
	h.sync()
	j = h.job()
	wantCounts(t, j, 0, 0, 1, 0)
	if len(j.Status.UncountedTerminatedPods.Failed) != 0 {
		t.Fatalf("uncounted = %v", j.Status.UncountedTerminatedPods)
	}
	if len(h.livePods()) != 0 {
		t.Fatal("replacement created during backoff")
	}
	if q := h.c.queue.Len(); q != 0 {
		t.Logf("queue %d", q)
	}
	// Still in backoff 9s later; created after 10s.
	h.clk.Step(9 * time.Second)
	h.sync()
	if len(h.livePods()) != 0 {
		t.Fatal("replacement created before 10s")
	}
	h.clk.Step(time.Second)
	h.sync()
	pods = h.livePods()
	if len(pods) != 1 {
		t.Fatalf("pods after backoff = %d", len(pods))
	}
	h.finish(pods[0], 1)
	h.sync()
	j = h.job()
	wantConds(t, j, "FailureTarget=True/BackoffLimitExceeded", "Failed=True/BackoffLimitExceeded")
	wantCounts(t, j, 0, 0, 2, 0)
	if j.Status.CompletionTime != nil {
		t.Fatal("failed job has completionTime")
	}
	if c := findCondition(j.Status.Conditions, batchv1.JobFailed); c.Message != msgBackoffLimit {
		t.Fatalf("message %q", c.Message)
	}
	if ev := h.events(); !hasEvent(ev, "Warning BackoffLimitExceeded Job has reached the specified backoff limit") {
		t.Fatalf("events %v", ev)
	}
	for _, p := range h.pods() {
		if hasTrackingFinalizer(p) {
			t.Fatalf("pod %s keeps finalizer", p.Name)
		}
	}
}

// Job B: activeDeadlineSeconds 10 with a never-ending pod.
func TestTimelineDeadlineExceeded(t *testing.T) {
	h := newHarness(t, newJob(func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To[int64](10) }))
	h.sync()
	if len(h.livePods()) != 1 {
		t.Fatal("no pod")
	}
	h.clk.Step(10 * time.Second)
	h.sync()
	j := h.job()
	wantConds(t, j, "FailureTarget=True/DeadlineExceeded")
	wantCounts(t, j, 0, 0, 1, 1)
	h.events()
	// The pod finishes terminating; its finalizer was already removed.
	tp := h.terminatingPods()
	if len(tp) != 1 || hasTrackingFinalizer(tp[0]) {
		t.Fatalf("terminating pods %v", tp)
	}
	h.gone(tp[0])
	h.sync()
	j = h.job()
	wantConds(t, j, "FailureTarget=True/DeadlineExceeded", "Failed=True/DeadlineExceeded")
	wantCounts(t, j, 0, 0, 1, 0)
	if ev := h.events(); !hasEvent(ev, "Warning DeadlineExceeded Job was active longer than specified deadline") {
		t.Fatalf("events %v", ev)
	}
}

// Job C: Indexed, successPolicy on index 0.
func TestTimelineSuccessPolicy(t *testing.T) {
	h := newHarness(t, newJob(func(j *batchv1.Job) {
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](3), ptr.To[int32](3)
		j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededIndexes: ptr.To("0")}}}
	}))
	h.sync()
	pods := h.livePods()
	if len(pods) != 3 {
		t.Fatalf("pods = %d", len(pods))
	}
	for _, p := range pods {
		ix := completionIndex(p)
		if p.Spec.Hostname != "j-"+itoa(ix) || p.Labels[batchv1.JobCompletionIndexAnnotation] != itoa(ix) || !strings.HasPrefix(p.Name, "j-"+itoa(ix)+"-") {
			t.Fatalf("pod %s: hostname %q labels %v", p.Name, p.Spec.Hostname, p.Labels)
		}
		if env := p.Spec.Containers[0].Env; len(env) != 1 || env[0].Name != "JOB_COMPLETION_INDEX" ||
			env[0].ValueFrom.FieldRef.FieldPath != "metadata.labels['batch.kubernetes.io/job-completion-index']" {
			t.Fatalf("env %v", env)
		}
		if ix == 0 {
			h.finish(p, 0)
		}
	}
	h.sync()
	j := h.job()
	wantConds(t, j, "SuccessCriteriaMet=True/SuccessPolicy")
	if c := j.Status.Conditions[0]; c.Message != "Matched rules at index 0" {
		t.Fatalf("message %q", c.Message)
	}
	if j.Status.CompletedIndexes != "0" || j.Status.Succeeded != 1 || j.Status.Failed != 0 {
		t.Fatalf("status %+v", j.Status)
	}
	wantCounts(t, j, 0, 1, 0, 2)
	for _, p := range h.terminatingPods() {
		if hasTrackingFinalizer(p) {
			t.Fatalf("pod %s keeps its finalizer", p.Name)
		}
		h.gone(p)
	}
	h.sync()
	j = h.job()
	wantConds(t, j, "SuccessCriteriaMet=True/SuccessPolicy", "Complete=True/SuccessPolicy")
	wantCounts(t, j, 0, 1, 0, 0)
	if j.Status.CompletionTime == nil {
		t.Fatal("no completionTime")
	}
	if ev := h.events(); !hasEvent(ev, "Normal Completed Job completed") {
		t.Fatalf("events %v", ev)
	}
}
