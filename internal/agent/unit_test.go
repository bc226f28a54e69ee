package agent

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchlet/batchlet/internal/runtime"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	tests := map[string]string{
		"$(A)-$(B)": "1-two",
		"$(C)":      "$(C)",
		"$$(A)":     "$(A)",
		"$$$(A)":    "$1",
		"a$b":       "a$b",
		"$(A":       "$(A",
		"$()":       "$()",
		"end$":      "end$",
	}
	for in, want := range tests {
		if got := expand(in, lookup); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	var b backoff
	t0 := time.Unix(1000, 0)
	if !b.until(t0).IsZero() {
		t.Fatal("first restart must be immediate")
	}
	want := []time.Duration{10, 20, 40, 80, 160, 300, 300}
	at := t0
	for i, w := range want {
		b.next(at)
		if b.delay != w*time.Second {
			t.Fatalf("step %d: delay %v, want %v", i, b.delay, w*time.Second)
		}
		at = at.Add(time.Second)
	}
	// A container that ran for more than 10 minutes starts over.
	late := at.Add(11 * time.Minute)
	if !b.until(late).IsZero() {
		t.Fatal("back-off not reset after a long run")
	}
	b.next(late)
	if b.delay != 10*time.Second {
		t.Fatalf("delay after reset = %v", b.delay)
	}
}

func exited(code int32) *ctrState {
	return &ctrState{name: "c", attempts: 1, current: &attempt{id: "x", exit: &runtime.Exit{ExitCode: code}}}
}

func runningCtr() *ctrState {
	return &ctrState{name: "c", attempts: 1, current: &attempt{id: "x"}}
}

func TestComputePhase(t *testing.T) {
	tests := []struct {
		name   string
		policy corev1.RestartPolicy
		v      podView
		want   corev1.PodPhase
	}{
		{"not started", corev1.RestartPolicyNever, podView{ctrs: []*ctrState{{name: "c"}}}, corev1.PodPending},
		{"running", corev1.RestartPolicyNever, podView{ctrs: []*ctrState{runningCtr()}}, corev1.PodRunning},
		{"succeeded", corev1.RestartPolicyNever, podView{ctrs: []*ctrState{exited(0)}}, corev1.PodSucceeded},
		{"failed never", corev1.RestartPolicyNever, podView{ctrs: []*ctrState{exited(1)}}, corev1.PodFailed},
		{"failed onfailure restarts", corev1.RestartPolicyOnFailure, podView{ctrs: []*ctrState{exited(1)}}, corev1.PodRunning},
		{"succeeded onfailure", corev1.RestartPolicyOnFailure, podView{ctrs: []*ctrState{exited(0)}}, corev1.PodSucceeded},
		{"always exited", corev1.RestartPolicyAlways, podView{ctrs: []*ctrState{exited(0)}}, corev1.PodRunning},
		{"one running one failed", corev1.RestartPolicyNever, podView{ctrs: []*ctrState{runningCtr(), exited(1)}}, corev1.PodRunning},
		{"init running", corev1.RestartPolicyNever, podView{initCtrs: []*ctrState{runningCtr()}, ctrs: []*ctrState{{name: "c"}}}, corev1.PodPending},
		{"init failed never", corev1.RestartPolicyNever, podView{initCtrs: []*ctrState{exited(1)}, ctrs: []*ctrState{{name: "c"}}}, corev1.PodFailed},
		{"init failed onfailure", corev1.RestartPolicyOnFailure, podView{initCtrs: []*ctrState{exited(1)}, ctrs: []*ctrState{{name: "c"}}}, corev1.PodPending},
		{"final after kill", corev1.RestartPolicyAlways, podView{final: true, ctrs: []*ctrState{exited(143)}}, corev1.PodFailed},
		{"final all succeeded", corev1.RestartPolicyAlways, podView{final: true, ctrs: []*ctrState{exited(0)}}, corev1.PodSucceeded},
		{"deadline", corev1.RestartPolicyNever, podView{deadlineExceeded: true, ctrs: []*ctrState{runningCtr()}}, corev1.PodFailed},
	}
	for _, tc := range tests {
		initDone := true
		for _, c := range tc.v.initCtrs {
			initDone = initDone && c.succeeded()
		}
		if got := computePhase(tc.policy, tc.v, initDone); got != tc.want {
			t.Errorf("%s: phase %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestComputeStatusConditions(t *testing.T) {
	pod := testPod("p", sh("c", "debian", "true"))
	now := time.Unix(2000, 0)
	st := computeStatus(pod, podView{ctrs: []*ctrState{exited(0)}, sandboxReady: true, nodeIP: "10.0.0.1"}, now)
	conds := map[corev1.PodConditionType]corev1.PodCondition{}
	for _, c := range st.Conditions {
		conds[c.Type] = c
	}
	if conds[corev1.PodReady].Reason != "PodCompleted" || conds[corev1.ContainersReady].Status != corev1.ConditionFalse ||
		conds[corev1.PodScheduled].Status != corev1.ConditionTrue || conds[corev1.PodInitialized].Status != corev1.ConditionTrue {
		t.Fatalf("conditions = %+v", st.Conditions)
	}
	term := st.ContainerStatuses[0].State.Terminated
	if term == nil || term.Reason != "Completed" || st.PodIP != "10.0.0.1" {
		t.Fatalf("status = %+v", st)
	}

	crash := exited(1)
	crash.attempts = 3
	crash.waitingReason, crash.waitingMessage = "CrashLoopBackOff", "back-off 20s ..."
	st = computeStatus(pod, podView{ctrs: []*ctrState{crash}}, now)
	cs := st.ContainerStatuses[0]
	if cs.RestartCount != 2 || cs.State.Waiting == nil || cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.Reason != "Error" {
		t.Fatalf("crash-looping status = %+v", cs)
	}
	for _, c := range st.Conditions {
		if c.Type == corev1.PodReady && (c.Reason != "ContainersNotReady" || c.Message != "containers with unready status: [c]") {
			t.Fatalf("Ready = %+v", c)
		}
	}
}
