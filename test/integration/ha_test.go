package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchlet/batchlet/internal/server"
	"github.com/batchlet/batchlet/internal/server/servertest"
	"github.com/batchlet/batchlet/internal/storage/embedded"
)

// TestTwoServersOnOneEtcdRunEachControllerOnce: two servers share an etcd
// cluster. Each controller and the scheduler run in one of them only (the
// holder of the kube-controller-manager and kube-scheduler Leases), so a
// Job gets exactly its pods, not one set per server.
func TestTwoServersOnOneEtcdRunEachControllerOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	etcd, err := embedded.Start(ctx, embedded.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	a := servertest.Start(t, func(c *server.Config) {
		c.EtcdEndpoints = etcd.Endpoints()
		c.NodeName = "node-a"
	})
	servertest.Start(t, func(c *server.Config) {
		c.EtcdEndpoints = etcd.Endpoints()
		c.NodeName = "node-b"
		c.DisableAgent = true
	})

	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "once", Namespace: "default"},
		Spec: batchv1.JobSpec{
			Completions: ptr.To[int32](3),
			Parallelism: ptr.To[int32](3),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"sleep", "600"}}},
			}},
		},
	}
	if _, err := a.Client.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = a.Client.BatchV1().Jobs("default").Delete(context.Background(), "once",
			metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
	}()
	// Both servers see the Job at once; were both controllers running,
	// each would create its three pods before seeing the other's.
	var pods *corev1.PodList
	deadline := time.Now().Add(60 * time.Second)
	for {
		pods, err = a.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=once"})
		if err != nil {
			t.Fatal(err)
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		if running == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(pods.Items) != 3 {
		var names []string
		for _, p := range pods.Items {
			names = append(names, fmt.Sprintf("%s (%s)", p.Name, p.Status.Phase))
		}
		t.Fatalf("the Job has %d pods, want 3: %v", len(pods.Items), names)
	}
	for _, name := range []string{"kube-controller-manager", "kube-scheduler"} {
		lease, err := a.Client.CoordinationV1().Leases("kube-system").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("lease %s: %v", name, err)
		}
		if ptr.Deref(lease.Spec.HolderIdentity, "") == "" {
			t.Errorf("lease %s has no holder", name)
		}
	}
}
