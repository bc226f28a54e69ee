package agent

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestProbeThresholds(t *testing.T) {
	tests := []struct {
		name    string
		kind    string
		probe   corev1.Probe
		initial bool
		results []bool
		want    []bool // latched result after each outcome
		failed  []bool // whether that outcome reached the failure threshold
	}{
		{"readiness needs two successes", probeReadiness, corev1.Probe{SuccessThreshold: 2, FailureThreshold: 2}, false,
			[]bool{true, true, false, false}, []bool{false, true, true, false}, []bool{false, false, false, true}},
		{"liveness defaults to three failures", probeLiveness, corev1.Probe{}, true,
			[]bool{false, false, true, false, false, false}, []bool{true, true, true, true, true, false},
			[]bool{false, false, false, false, false, true}},
		{"startup ignores success threshold", probeStartup, corev1.Probe{SuccessThreshold: 5}, false,
			[]bool{false, true}, []bool{false, true}, []bool{false, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newProbeState(tc.kind, &tc.probe, time.Now(), tc.initial)
			for i, r := range tc.results {
				failed := st.record(r)
				if st.ok != tc.want[i] || failed != tc.failed[i] {
					t.Fatalf("after outcome %d (%v): ok=%v failed=%v, want %v %v", i, r, st.ok, failed, tc.want[i], tc.failed[i])
				}
			}
		})
	}
}

// stepUntil advances the fake clock by step until cond holds for the pod.
func (h *harness) stepUntil(name, what string, step time.Duration, cond func(*corev1.Pod) bool) *corev1.Pod {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		p, err := h.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && cond(p) {
			return p
		}
		h.clock.Step(step)
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("pod %s: timed out waiting for %s", name, what)
	return nil
}

// waitEvent waits for an event about the pod with reason and a message
// containing text.
func (h *harness) waitEvent(pod, reason, text string) corev1.Event {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		evs, _ := h.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
		for _, e := range evs.Items {
			if e.InvolvedObject.Name == pod && e.Reason == reason && strings.Contains(e.Message, text) {
				return e
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("no %s event for %s containing %q", reason, pod, text)
	return corev1.Event{}
}

func readyCondition(p *corev1.Pod) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status
		}
	}
	return ""
}

func TestReadinessProbeDrivesReady(t *testing.T) {
	h := startAgent(t, nil, "")
	marker := filepath.Join(t.TempDir(), "ready")
	c := sh("c", "debian", "while true; do sleep 0.05; done")
	c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
		Command: []string{"sh", "-c", "test -e " + marker + " || { echo not yet; exit 1; }"}}},
		PeriodSeconds: 5, FailureThreshold: 1}
	h.create(testPod("ready", c))
	p := h.waitPod("ready", "running", running)
	if p.Status.ContainerStatuses[0].Ready || readyCondition(p) == corev1.ConditionTrue {
		t.Fatalf("ready before the probe passed: %+v", p.Status)
	}
	e := h.waitEvent("ready", eventUnhealthy, "Readiness probe failed: not yet")
	if e.Source.Component != "kubelet" || e.Source.Host != "node1" || e.InvolvedObject.FieldPath != "spec.containers{c}" {
		t.Fatalf("event = %+v", e)
	}
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p = h.stepUntil("ready", "Ready", 5*time.Second, func(p *corev1.Pod) bool { return readyCondition(p) == corev1.ConditionTrue })
	if !p.Status.ContainerStatuses[0].Ready {
		t.Fatalf("container not ready: %+v", p.Status.ContainerStatuses[0])
	}
	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	h.stepUntil("ready", "not Ready again", 5*time.Second, func(p *corev1.Pod) bool {
		return readyCondition(p) == corev1.ConditionFalse && !p.Status.ContainerStatuses[0].Ready
	})
}

func TestLivenessProbeRestartsContainer(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || r.Header.Get("User-Agent") != probeUserAgent {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if !healthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	h := startAgent(t, nil, "")
	c := sh("c", "debian", "while true; do sleep 0.05; done")
	c.Ports = []corev1.ContainerPort{{Name: "health", ContainerPort: int32(mustAtoi(t, port))}}
	c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
		Host: "127.0.0.1", Path: "/healthz", Port: intstr.FromString("health")}},
		PeriodSeconds: 1, FailureThreshold: 2}
	pod := testPod("live", c)
	pod.Spec.RestartPolicy = corev1.RestartPolicyAlways
	h.create(pod)
	h.waitPod("live", "running", running)
	// Healthy: time passes, nothing restarts.
	for i := 0; i < 5; i++ {
		h.clock.Step(time.Second)
		time.Sleep(10 * time.Millisecond)
	}
	if p := h.waitPod("live", "running", running); p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Fatalf("restarted while healthy: %+v", p.Status.ContainerStatuses[0])
	}
	healthy.Store(false)
	p := h.stepUntil("live", "restart after failed liveness", time.Second, func(p *corev1.Pod) bool {
		return p.Status.ContainerStatuses[0].RestartCount == 1
	})
	if last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated; last == nil || last.ExitCode != 143 {
		t.Fatalf("last state = %+v", p.Status.ContainerStatuses[0].LastTerminationState)
	}
	h.waitEvent("live", eventUnhealthy, "Liveness probe failed: HTTP probe failed with statuscode: 500")
	h.waitEvent("live", eventKilling, "Container c failed liveness probe, will be restarted")
}

func TestLifecycleEvents(t *testing.T) {
	h := startAgent(t, nil, "")
	h.create(testPod("ev", sh("c", "busybox:1.36", "exit 0")))
	h.waitPod("ev", "Succeeded", phaseIs(corev1.PodSucceeded))
	h.waitEvent("ev", eventPulled, `Container image "busybox:1.36" already present on machine`)
	h.waitEvent("ev", eventCreated, "Created container: c")
	h.waitEvent("ev", eventStarted, "Started container c")

	bad := testPod("badcmd", corev1.Container{Name: "c", Image: "debian", Command: []string{"no-such-binary-xyz"}})
	h.create(bad)
	h.waitEvent("badcmd", eventFailed, `Error: `)
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
