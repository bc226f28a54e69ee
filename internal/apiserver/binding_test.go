package apiserver

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestBindingMarksScheduled: as upstream, a binding sets PodScheduled=True
// and the binding's annotations in the same write as the node name, so
// the node's agent never has to add the condition itself.
func TestBindingMarksScheduled(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	pods := env.client.CoreV1().Pods("default")
	p := newPod("p", "c")
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}
	created, err := pods.Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The scheduler's verdict before a node freed up, written as it does.
	created.Status.Conditions = p.Status.Conditions
	if _, err := pods.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p", Annotations: map[string]string{"example.com/zone": "a"}},
		Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}
	if err := pods.Bind(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	got, err := pods.Get(ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Annotations["example.com/zone"] != "a" {
		t.Errorf("annotations after binding: %v", got.Annotations)
	}
	var scheduled []corev1.PodCondition
	for _, c := range got.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			scheduled = append(scheduled, c)
		}
	}
	if len(scheduled) != 1 || scheduled[0].Status != corev1.ConditionTrue || scheduled[0].Reason != "" || scheduled[0].LastTransitionTime.IsZero() {
		t.Fatalf("PodScheduled conditions after binding: %+v", scheduled)
	}
}

// TestBindingChecksUID: a binding naming another UID than the pod's (the
// pod was re-created under the same name) is a conflict and binds nothing.
func TestBindingChecksUID(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	pods := env.client.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, newPod("p", "c"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p", UID: "an-earlier-pod"}, Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}
	if err := pods.Bind(ctx, b, metav1.CreateOptions{}); !apierrors.IsConflict(err) || !strings.Contains(strings.ToLower(err.Error()), "precondition") {
		t.Fatalf("bind with another UID: %v", err)
	}
	got, err := pods.Get(ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.NodeName != "" {
		t.Fatalf("bound to %q despite the UID", got.Spec.NodeName)
	}
	b.UID = got.UID
	if err := pods.Bind(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatalf("bind with the pod's UID: %v", err)
	}
}
