package integration

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/batchlet/batchlet/internal/server"
	"github.com/batchlet/batchlet/internal/server/servertest"
)

// TestIntegrationSuspendAndResumeRunningJob suspends a started Job and
// resumes it a minute later: the Resumed condition and the new startTime
// are written together, a status write the apiserver's rule for startTime
// must let through.
func TestIntegrationSuspendAndResumeRunningJob(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(t0)
	s := servertest.Start(t, func(c *server.Config) { c.Clock = clk })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	gate := filepath.Join(t.TempDir(), "gate")
	t.Cleanup(func() { _ = os.WriteFile(gate, nil, 0o600) })

	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "resumable", Namespace: "default"},
		Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "main", Image: "busybox",
					Command: []string{"sh", "-c", "until [ -e " + gate + " ]; do sleep 0.05; done"}}},
			}},
		},
	}
	jobs := s.Client.BatchV1().Jobs("default")
	if _, err := jobs.Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitJob := func(what string, cond func(*batchv1.Job) bool) *batchv1.Job {
		t.Helper()
		var last *batchv1.Job
		err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			j, err := jobs.Get(ctx, job.Name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			last = j
			return cond(j), nil
		})
		if err != nil {
			t.Fatalf("job never %s: %v; status %+v", what, err, last.Status)
		}
		return last
	}
	suspendedCond := func(j *batchv1.Job) *batchv1.JobCondition {
		for i := range j.Status.Conditions {
			if j.Status.Conditions[i].Type == batchv1.JobSuspended {
				return &j.Status.Conditions[i]
			}
		}
		return nil
	}
	startedAt := func(at time.Time) func(*batchv1.Job) bool {
		return func(j *batchv1.Job) bool {
			return j.Status.StartTime != nil && j.Status.StartTime.Time.Equal(at)
		}
	}
	setSuspend := func(v bool) {
		t.Helper()
		patch := []byte(`{"spec":{"suspend":false}}`)
		if v {
			patch = []byte(`{"spec":{"suspend":true}}`)
		}
		if _, err := jobs.Patch(ctx, job.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	waitJob("running", func(j *batchv1.Job) bool { return j.Status.Active == 1 && startedAt(t0)(j) })
	setSuspend(true)
	waitJob("suspended", func(j *batchv1.Job) bool {
		c := suspendedCond(j)
		return c != nil && c.Status == corev1.ConditionTrue && j.Status.Active == 0
	})

	resumedAt := t0.Add(time.Minute)
	clk.SetTime(resumedAt)
	setSuspend(false)
	got := waitJob("resumed with a new startTime", func(j *batchv1.Job) bool {
		c := suspendedCond(j)
		return c != nil && c.Status == corev1.ConditionFalse && startedAt(resumedAt)(j) && j.Status.Active == 1
	})
	if c := suspendedCond(got); c.Reason != "JobResumed" || c.Message != "Job resumed" {
		t.Errorf("Suspended condition after resume = %+v, want reason JobResumed", c)
	}
}
