package job

import (
	"reflect"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestIntervals(t *testing.T) {
	cases := []struct {
		in    string
		limit int
		add   []int
		want  string
		total int
	}{
		{in: "", limit: 10, want: "", total: 0},
		{in: "", limit: 10, add: []int{0, 1}, want: "0,1", total: 2},
		{in: "", limit: 10, add: []int{2, 0, 1}, want: "0-2", total: 3},
		{in: "0-2", limit: 10, add: []int{5}, want: "0-2,5", total: 4},
		{in: "1,3-5,7", limit: 10, add: []int{2, 6}, want: "1-7", total: 7},
		{in: "0,1", limit: 10, add: []int{3}, want: "0,1,3", total: 3},
		{in: "0-9", limit: 5, want: "0-4", total: 5},
		{in: "7,x,2-1,3", limit: 5, want: "3", total: 1},
	}
	for _, tc := range cases {
		iv := parseIntervals(tc.in, tc.limit).with(tc.add...)
		if got := iv.String(); got != tc.want || iv.total() != tc.total {
			t.Errorf("%q+%v = %q (%d), want %q (%d)", tc.in, tc.add, got, iv.total(), tc.want, tc.total)
		}
	}
	iv := parseIntervals("1,3-5", 10)
	for x, want := range map[int]bool{0: false, 1: true, 2: false, 3: true, 5: true, 6: false} {
		if iv.has(x) != want {
			t.Errorf("has(%d) = %v", x, !want)
		}
	}
}

func TestBackoffDelay(t *testing.T) {
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		160 * time.Second, 320 * time.Second, 6 * time.Minute, 6 * time.Minute}
	for n, w := range want {
		if got := backoffDelay(int32(n)); got != w {
			t.Errorf("delay(%d) = %v, want %v", n, got, w)
		}
	}
}

func finishedPod(phase corev1.PodPhase, at time.Time) *corev1.Pod {
	return &corev1.Pod{Status: corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{{
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(at)}},
	}}}}
}

func TestBackoffRecordReset(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	start := backoffRecord{failuresAfterLastSuccess: 2, lastFailureTime: ptr.To(at(0))}
	cases := []struct {
		name      string
		succeeded []*corev1.Pod
		failed    []*corev1.Pod
		wantN     int32
		wantLast  *time.Time
	}{
		{name: "nothing new", wantN: 2, wantLast: ptr.To(at(0))},
		{name: "failures add up", failed: []*corev1.Pod{finishedPod(corev1.PodFailed, at(5)), finishedPod(corev1.PodFailed, at(3))}, wantN: 4, wantLast: ptr.To(at(5))},
		{name: "success resets", succeeded: []*corev1.Pod{finishedPod(corev1.PodSucceeded, at(5))}, wantN: 0},
		{name: "failures after the success count", succeeded: []*corev1.Pod{finishedPod(corev1.PodSucceeded, at(5))},
			failed: []*corev1.Pod{finishedPod(corev1.PodFailed, at(4)), finishedPod(corev1.PodFailed, at(6)), finishedPod(corev1.PodFailed, at(7))},
			wantN:  2, wantLast: ptr.To(at(7))},
	}
	for _, tc := range cases {
		got := start.next(tc.succeeded, tc.failed)
		if got.failuresAfterLastSuccess != tc.wantN || !reflect.DeepEqual(got.lastFailureTime, tc.wantLast) {
			t.Errorf("%s: got %d %v, want %d %v", tc.name, got.failuresAfterLastSuccess, got.lastFailureTime, tc.wantN, tc.wantLast)
		}
	}
	if d := (backoffRecord{3, ptr.To(at(0))}).remaining(at(15)); d != 25*time.Second {
		t.Errorf("remaining = %v", d)
	}
}

func TestWantActive(t *testing.T) {
	cases := []struct {
		name                    string
		completions             *int32
		parallelism             int32
		active, succeeded, want int32
	}{
		{name: "work queue before success", parallelism: 3, want: 3},
		{name: "work queue after success keeps running", parallelism: 3, active: 2, succeeded: 1, want: 2},
		{name: "parallelism 0 pauses", completions: ptr.To[int32](5), parallelism: 0, want: 0},
		{name: "capped by parallelism", completions: ptr.To[int32](6), parallelism: 2, succeeded: 1, want: 2},
		{name: "capped by remaining", completions: ptr.To[int32](6), parallelism: 4, succeeded: 4, want: 2},
		{name: "never negative", completions: ptr.To[int32](2), parallelism: 4, succeeded: 5, want: 0},
	}
	for _, tc := range cases {
		j := newJob(func(j *batchv1.Job) { j.Spec.Completions, j.Spec.Parallelism = tc.completions, &tc.parallelism })
		if got := wantActive(j, tc.active, tc.succeeded); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

func exitPod(name string, codes map[string]int32, conds ...corev1.PodCondition) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Status: corev1.PodStatus{Phase: corev1.PodFailed, Conditions: conds}}
	for _, c := range []string{"main", "side"} {
		if code, ok := codes[c]; ok {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: c,
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}})
		}
	}
	return p
}

func TestMatchFailurePolicy(t *testing.T) {
	policy := &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			ContainerName: ptr.To("main"), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}},
		{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{
			{Type: corev1.DisruptionTarget}}},
		{Action: batchv1.PodFailurePolicyActionFailIndex, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			Operator: batchv1.PodFailurePolicyOnExitCodesOpNotIn, Values: []int32{1, 2}}},
		{Action: "Bogus", OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{2}}},
		{Action: batchv1.PodFailurePolicyActionFailJob, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{
			{Type: "Custom", Status: corev1.ConditionFalse}}},
	}}
	disrupted := corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}
	cases := []struct {
		name   string
		pod    *corev1.Pod
		action string
		count  bool
		msg    string
	}{
		{name: "FailJob on exit code", pod: exitPod("p1", map[string]int32{"main": 42}), action: "FailJob", count: true,
			msg: "Container main for pod default/p1 failed with exit code 42 matching FailJob rule at index 0"},
		{name: "containerName restricts", pod: exitPod("p2", map[string]int32{"side": 42}), action: "FailIndex", count: true},
		{name: "Ignore on DisruptionTarget", pod: exitPod("p3", map[string]int32{"main": 1}, disrupted), action: "Ignore"},
		{name: "NotIn excludes listed", pod: exitPod("p4", map[string]int32{"main": 1}), count: true},
		{name: "unknown action skipped", pod: exitPod("p5", map[string]int32{"main": 2}), count: true},
		{name: "condition status matched", pod: exitPod("p6", map[string]int32{"main": 1}, corev1.PodCondition{Type: "Custom", Status: corev1.ConditionFalse}),
			action: "FailJob", count: true, msg: "Pod default/p6 has condition Custom matching FailJob rule at index 4"},
		{name: "exit 0 never matches", pod: exitPod("p7", map[string]int32{"main": 0}), count: true},
	}
	for _, tc := range cases {
		m := matchFailurePolicy(policy, tc.pod)
		action := ""
		if m.action != nil {
			action = string(*m.action)
		}
		if action != tc.action || m.countFails != tc.count || m.failJobMsg != tc.msg {
			t.Errorf("%s: got %q %v %q", tc.name, action, m.countFails, m.failJobMsg)
		}
	}
}

func TestMatchSuccessPolicy(t *testing.T) {
	rules := func(r ...batchv1.SuccessPolicyRule) *batchv1.SuccessPolicy { return &batchv1.SuccessPolicy{Rules: r} }
	cases := []struct {
		name      string
		policy    *batchv1.SuccessPolicy
		succeeded string
		want      string
	}{
		{name: "no policy", succeeded: "0-9"},
		{name: "indexes all met", policy: rules(batchv1.SuccessPolicyRule{SucceededIndexes: ptr.To("0,2-3")}), succeeded: "0-3", want: "Matched rules at index 0"},
		{name: "indexes partly met", policy: rules(batchv1.SuccessPolicyRule{SucceededIndexes: ptr.To("0,2-3")}), succeeded: "0,1,2"},
		{name: "indexes with count", policy: rules(batchv1.SuccessPolicyRule{SucceededIndexes: ptr.To("0-4"), SucceededCount: ptr.To[int32](2)}), succeeded: "1,3,7", want: "Matched rules at index 0"},
		{name: "count only, second rule", policy: rules(
			batchv1.SuccessPolicyRule{SucceededIndexes: ptr.To("9")},
			batchv1.SuccessPolicyRule{SucceededCount: ptr.To[int32](3)}), succeeded: "0,4,5", want: "Matched rules at index 1"},
		{name: "nothing succeeded", policy: rules(batchv1.SuccessPolicyRule{SucceededCount: ptr.To[int32](0)}), succeeded: ""},
	}
	for _, tc := range cases {
		msg, ok := matchSuccessPolicy(tc.policy, 10, parseIntervals(tc.succeeded, 10))
		if msg != tc.want || ok != (tc.want != "") {
			t.Errorf("%s: %q %v", tc.name, msg, ok)
		}
	}
}

func TestGenerateNameWithIndex(t *testing.T) {
	long := "a-very-long-job-name-that-goes-on-and-on-and-on-beyond-limits"
	if got := generateNameWithIndex("pi", 3); got != "pi-3-" {
		t.Fatal(got)
	}
	got := generateNameWithIndex(long, 12345)
	if len(got) != maxGenerateNamePrefix || got[len(got)-7:] != "-12345-" {
		t.Fatalf("%q", got)
	}
}
