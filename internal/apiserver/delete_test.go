package apiserver

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestDeletePropagation(t *testing.T) {
	for _, tc := range []struct {
		name       string
		body       string
		finalizers []string
		gone       bool
	}{
		{"background", `{"propagationPolicy":"Background"}`, nil, true},
		{"orphan", `{"propagationPolicy":"Orphan"}`, []string{"orphan"}, false},
		{"foreground", `{"propagationPolicy":"Foreground"}`, []string{"foregroundDeletion"}, false},
		{"orphanDependents", `{"orphanDependents":true}`, []string{"orphan"}, false},
		{"job default is orphan", ``, []string{"orphan"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t)
			ctx := context.Background()
			job, err := env.client.BatchV1().Jobs("default").Create(ctx, newJob("pi"), metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			resp, data := env.do(t, "DELETE", "/apis/batch/v1/namespaces/default/jobs/pi", "application/json", body)
			if resp.StatusCode != 200 {
				t.Fatalf("delete: %d %s", resp.StatusCode, data)
			}
			if tc.gone {
				var st metav1.Status
				if err := json.Unmarshal(data, &st); err != nil || st.Status != metav1.StatusSuccess || st.Details == nil ||
					st.Details.Name != "pi" || st.Details.Group != "batch" || st.Details.Kind != "jobs" || st.Details.UID != job.UID {
					t.Fatalf("delete status: %s", data)
				}
				if _, err := env.client.BatchV1().Jobs("default").Get(ctx, "pi", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					t.Fatalf("still there: %v", err)
				}
				return
			}
			var held batchv1.Job
			if err := json.Unmarshal(data, &held); err != nil || held.Kind != "Job" {
				t.Fatalf("delete reply is not the job: %s", data)
			}
			if held.DeletionTimestamp == nil || *held.DeletionGracePeriodSeconds != 0 || strings.Join(held.Finalizers, ",") != strings.Join(tc.finalizers, ",") {
				t.Fatalf("held job: dt %v finalizers %v", held.DeletionTimestamp, held.Finalizers)
			}
			if held.Generation != 2 {
				t.Errorf("generation after delete = %d, want 2", held.Generation)
			}
			// No new finalizers once deleting.
			held.Finalizers = append(held.Finalizers, "example.com/new")
			if _, err := env.client.BatchV1().Jobs("default").Update(ctx, &held, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) ||
				!strings.Contains(err.Error(), "no new finalizers can be added if the object is being deleted") {
				t.Errorf("adding a finalizer while deleting: %v", err)
			}
		})
	}
}

func TestDeletePreconditionsAndDryRun(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	cms := env.client.CoreV1().ConfigMaps("default")
	c, _ := cms.Create(ctx, cm("a", nil), metav1.CreateOptions{})
	err := cms.Delete(ctx, "a", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr(types.UID("other"))}})
	if !apierrors.IsConflict(err) {
		t.Errorf("uid precondition: %v", err)
	}
	if err := cms.Delete(ctx, "a", metav1.DeleteOptions{DryRun: []string{"All"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "a", metav1.GetOptions{}); err != nil {
		t.Errorf("dry-run delete removed the object: %v", err)
	}
	if err := cms.Delete(ctx, "a", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &c.UID}}); err != nil {
		t.Errorf("matching precondition: %v", err)
	}
	if err := cms.Delete(ctx, "a", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("second delete: %v", err)
	}
	resp, _ := env.do(t, "DELETE", "/api/v1/namespaces/default/configmaps/a", "application/json", []byte(`{"propagationPolicy":"Sideways"}`))
	if resp.StatusCode != 422 {
		t.Errorf("bad propagation policy = %d", resp.StatusCode)
	}
}

func TestGracefulPodDelete(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	pods := env.client.CoreV1().Pods("default")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Finalizers: []string{"batch.kubernetes.io/job-tracking"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, "p", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := pods.Get(ctx, "p", metav1.GetOptions{})
	if got.DeletionTimestamp == nil || !got.DeletionTimestamp.Time.Equal(testNow.Add(30*time.Second)) || *got.DeletionGracePeriodSeconds != 30 {
		t.Fatalf("graceful delete: %v %v", got.DeletionTimestamp, got.DeletionGracePeriodSeconds)
	}
	// A longer grace period does not extend it; a shorter one shortens it.
	if err := pods.Delete(ctx, "p", metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(60))}); err != nil {
		t.Fatal(err)
	}
	got, _ = pods.Get(ctx, "p", metav1.GetOptions{})
	if *got.DeletionGracePeriodSeconds != 30 {
		t.Errorf("grace extended to %d", *got.DeletionGracePeriodSeconds)
	}
	if err := pods.Delete(ctx, "p", metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}); err != nil {
		t.Fatal(err)
	}
	got, _ = pods.Get(ctx, "p", metav1.GetOptions{})
	if got == nil || *got.DeletionGracePeriodSeconds != 0 {
		t.Fatalf("grace 0 with a finalizer must keep the pod: %+v", got)
	}
	// Removing the last finalizer removes the pod.
	got.Finalizers = nil
	if _, err := pods.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "p", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pod still there: %v", err)
	}
}

func TestDeleteCollection(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	cms := env.client.CoreV1().ConfigMaps("default")
	for _, n := range []string{"a", "b", "c"} {
		l := map[string]string{"keep": "no"}
		if n == "c" {
			l["keep"] = "yes"
		}
		if _, err := cms.Create(ctx, cm(n, l), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cms.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "keep=no"}); err != nil {
		t.Fatal(err)
	}
	list, _ := cms.List(ctx, metav1.ListOptions{})
	if len(list.Items) != 1 || list.Items[0].Name != "c" {
		t.Errorf("left: %v", list.Items)
	}
}

func TestStatusIsolation(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	jobs := env.client.BatchV1().Jobs("default")
	job, _ := jobs.Create(ctx, newJob("pi"), metav1.CreateOptions{})
	job.Status.Succeeded = 1
	job.Labels["changed"] = "yes"
	out, err := jobs.UpdateStatus(ctx, job, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status.Succeeded != 1 || out.Labels["changed"] != "" {
		t.Errorf("status update: succeeded %d labels %v", out.Status.Succeeded, out.Labels)
	}
	out.Status.Succeeded = 5
	out.Spec.Parallelism = ptr(int32(3))
	main, err := jobs.Update(ctx, out, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if main.Status.Succeeded != 1 || *main.Spec.Parallelism != 3 {
		t.Errorf("main update: succeeded %d parallelism %d", main.Status.Succeeded, *main.Spec.Parallelism)
	}
	// The job's own field selector follows status.
	list, err := jobs.List(ctx, metav1.ListOptions{FieldSelector: "status.successful=1"})
	if err != nil || len(list.Items) != 1 {
		t.Errorf("field selector on status: %v %v", list, err)
	}
}
