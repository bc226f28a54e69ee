//go:build integration

package job_test

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/batchlet/batchlet/internal/server/servertest"
)

// TestIntegrationJobRunsToCompletion runs a Job on a real in-process
// server: apiserver, scheduler, agent and this controller. It builds the
// whole server, hence the build tag: go test -tags integration.
func TestIntegrationJobRunsToCompletion(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	s := servertest.Start(t)
	ctx := context.Background()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "ok", Namespace: "default"},
		Spec: batchv1.JobSpec{
			Completions: ptr.To[int32](4),
			Parallelism: ptr.To[int32](2),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"/bin/true"}}},
			}},
		},
	}
	if _, err := s.Client.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got *batchv1.Job
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		j, err := s.Client.BatchV1().Jobs("default").Get(ctx, "ok", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		got = j
		for _, c := range j.Status.Conditions {
			if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		pods, _ := s.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		for _, p := range pods.Items {
			t.Logf("pod %s node %q phase %s conds %+v fin %v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.Conditions, p.Finalizers)
		}
		t.Fatalf("job not finished: %v; status %+v", err, got.Status)
	}
	if got.Status.Succeeded != 4 || got.Status.Failed != 0 {
		t.Fatalf("status %+v", got.Status)
	}
	pods, err := s.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if len(p.Finalizers) != 0 || p.Spec.NodeName == "" {
			t.Fatalf("pod %s: finalizers %v node %q", p.Name, p.Finalizers, p.Spec.NodeName)
		}
	}
}
