package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/batchlet/batchlet/internal/server/servertest"
)

// TestIntegrationUnschedulablePodCondition: a pod no node can hold gets
// PodScheduled False, reason Unschedulable, with the scheduler's message,
// written through the real apiserver's pods/status patch; the pod's other
// conditions and fields are left as they were.
func TestIntegrationUnschedulablePodCondition(t *testing.T) {
	s := servertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "huge", Namespace: "default", Labels: map[string]string{"app": "huge"}},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"true"},
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1000")}}}},
		},
	}
	pods := s.Client.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		got = p
		return len(p.Status.Conditions) > 0, nil
	})
	if err != nil {
		t.Fatalf("no condition on the pod: %v", err)
	}
	if len(got.Status.Conditions) != 1 {
		t.Fatalf("conditions %+v, want PodScheduled alone", got.Status.Conditions)
	}
	c := got.Status.Conditions[0]
	if c.Type != corev1.PodScheduled || c.Status != corev1.ConditionFalse || c.Reason != corev1.PodReasonUnschedulable ||
		!strings.Contains(c.Message, "Insufficient cpu") || c.LastTransitionTime.IsZero() {
		t.Fatalf("condition %+v", c)
	}
	if got.Spec.NodeName != "" || got.Labels["app"] != "huge" || got.Status.Phase != corev1.PodPending {
		t.Fatalf("pod changed beyond its condition: node %q, labels %v, phase %q", got.Spec.NodeName, got.Labels, got.Status.Phase)
	}
}
