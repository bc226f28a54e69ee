package server_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchlet/batchlet/internal/server"
	"github.com/batchlet/batchlet/internal/server/servertest"
)

// TestUpdateFromTrimmedCacheKeepsManagedFields: the controller manager's
// and the scheduler's informers drop managedFields, as upstream's do; an
// update built from such a copy must leave the stored entries in place
// and add the writer's.
func TestUpdateFromTrimmedCacheKeepsManagedFields(t *testing.T) {
	s := servertest.Start(t, func(c *server.Config) { c.DisableAgent = true })
	ctx := context.Background()
	pods := s.Client.CoreV1().Pods("default")
	created, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"a": "b"}},
		// Bound already, so that no scheduler writes it meanwhile.
		Spec: corev1.PodSpec{NodeName: "elsewhere", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}, metav1.CreateOptions{FieldManager: "creator"})
	if err != nil {
		t.Fatal(err)
	}
	if len(created.ManagedFields) != 1 {
		t.Fatalf("created with managedFields %v", created.ManagedFields)
	}
	trimmed, err := server.TrimManagedFields(created.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	pod := trimmed.(*corev1.Pod)
	if pod.ManagedFields != nil {
		t.Fatal("trimming kept managedFields")
	}
	pod.Status.Message = "from a cached copy"
	updated, err := pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{FieldManager: "status-writer"})
	if err != nil {
		t.Fatal(err)
	}
	managers := map[string]string{}
	for _, e := range updated.ManagedFields {
		managers[e.Manager] = e.Subresource
	}
	if _, ok := managers["creator"]; !ok || managers["status-writer"] != "status" || len(managers) != 2 {
		t.Errorf("managedFields after an update without them: %v; want creator's kept and status-writer's added", managers)
	}
}
