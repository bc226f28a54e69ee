package agent

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	k8stesting "k8s.io/client-go/testing"
)

// podStatusWrites returns the statuses the agent wrote for the named pod,
// in order.
func podStatusWrites(h *harness, name string) []corev1.PodStatus {
	var out []corev1.PodStatus
	for _, a := range h.client.Actions() {
		u, ok := a.(k8stesting.UpdateAction)
		if !ok || a.GetResource().Resource != "pods" || a.GetSubresource() != "status" {
			continue
		}
		if p, ok := u.GetObject().(*corev1.Pod); ok && p.Name == name {
			out = append(out, p.Status)
		}
	}
	return out
}

func everRunning(writes []corev1.PodStatus) bool {
	for _, st := range writes {
		for _, cs := range st.ContainerStatuses {
			if cs.State.Running != nil {
				return true
			}
		}
	}
	return false
}

// TestShortPodReportedOnceTerminal: a container that ends within
// firstStatusHold of its start is never reported Running; its first
// status write is already terminal.
func TestShortPodReportedOnceTerminal(t *testing.T) {
	h := startAgent(t, nil, "")
	h.create(testPod("short", sh("c", "bash", "sleep 0.2")))
	done := h.waitPod("short", "Succeeded", phaseIs(corev1.PodSucceeded))
	term := done.Status.ContainerStatuses[0].State.Terminated
	if ran := term.FinishedAt.Sub(term.StartedAt.Time); ran >= firstStatusHold*9/10 {
		t.Skipf("the container ran %v on this loaded machine, too close to the %v hold to judge", ran, firstStatusHold)
	}
	writes := podStatusWrites(h, "short")
	if everRunning(writes) {
		t.Fatalf("a pod that ran well within the hold was reported Running: %d status writes", len(writes))
	}
	if len(writes) == 0 || writes[0].Phase != corev1.PodSucceeded {
		t.Fatalf("first status write %+v, want it already Succeeded", writes)
	}
}

// TestLongPodReportedRunningAfterTheHold: the hold ends on the wall clock,
// so a pod that keeps running is reported Running even though the agent's
// (fake) clock never moves.
func TestLongPodReportedRunningAfterTheHold(t *testing.T) {
	h := startAgent(t, nil, "")
	gate := filepath.Join(t.TempDir(), "gate")
	h.create(testPod("long", sh("c", "bash", "until [ -e "+gate+" ]; do sleep 0.05; done")))
	h.waitPod("long", "running", running)
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.waitPod("long", "Succeeded", phaseIs(corev1.PodSucceeded))
	if writes := podStatusWrites(h, "long"); !everRunning(writes) {
		t.Fatalf("the long pod was never reported Running: %d status writes", len(writes))
	}
}
