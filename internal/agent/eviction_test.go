package agent

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stesting "k8s.io/client-go/testing"
)

// TestEvictedPodKeepsDisruptionTarget does what the eviction subresource
// does (DisruptionTarget, then a graceful delete) and checks the agent's
// final status write: phase Failed, the condition kept.
func TestEvictedPodKeepsDisruptionTarget(t *testing.T) {
	h := startAgent(t, nil, "")
	h.create(testPod("evictee", sh("c", "debian", "while true; do sleep 0.05; done")))
	h.waitPod("evictee", "running", running)

	p, err := h.client.CoreV1().Pods("default").Get(context.Background(), "evictee", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.DisruptionTarget,
		Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI", Message: "Eviction API: evicting",
		LastTransitionTime: metav1.Now()})
	if _, err := h.client.CoreV1().Pods("default").UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.deleteGracefully("evictee", 30)
	h.waitPod("evictee", "removed", gone)

	var final *corev1.Pod
	for _, a := range h.client.Actions() {
		if u, ok := a.(k8stesting.UpdateAction); ok && a.GetSubresource() == "status" {
			if pod, ok := u.GetObject().(*corev1.Pod); ok && pod.Name == "evictee" {
				final = pod
			}
		}
	}
	if final == nil || final.Status.Phase != corev1.PodFailed {
		t.Fatalf("final status = %+v", final)
	}
	var kept bool
	for _, c := range final.Status.Conditions {
		kept = kept || (c.Type == corev1.DisruptionTarget && c.Reason == "EvictionByEvictionAPI")
	}
	if !kept {
		t.Fatalf("DisruptionTarget dropped from the final status: %+v", final.Status.Conditions)
	}
	if term := final.Status.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 143 {
		t.Fatalf("container state = %+v", final.Status.ContainerStatuses[0].State)
	}
}
