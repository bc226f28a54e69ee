package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/batchlet/batchlet/internal/server"
	"github.com/batchlet/batchlet/internal/server/servertest"
)

// TestIntegrationCreatesJobOnSchedule runs the controller against a real
// in-process server with a fake clock moved to the next slot.
func TestIntegrationCreatesJobOnSchedule(t *testing.T) {
	// The whole server runs on a fake clock ten seconds before a minute.
	slot := time.Date(2030, 1, 1, 0, 1, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(slot.Add(-10 * time.Second))
	s := servertest.Start(t, func(c *server.Config) { c.Clock = clk })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	cj := everyMinute("hello")
	created, err := s.Client.BatchV1().CronJobs("default").Create(ctx, cj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing before the slot; once the clock reaches it, the Job appears.
	jobs, err := s.Client.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(jobs.Items) != 0 {
		t.Fatalf("jobs before the slot: %v %v", jobs, err)
	}
	clk.SetTime(slot)
	name := fmt.Sprintf("hello-%d", slot.Unix()/60)
	var job *batchv1.Job
	if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		job, err = s.Client.BatchV1().Jobs("default").Get(ctx, name, metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		t.Fatalf("job %s not created: %v", name, err)
	}
	if ref := metav1.GetControllerOf(job); ref == nil || ref.UID != created.UID {
		t.Fatalf("job controller ref = %+v", ref)
	}
	if got := job.Annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"]; got != slot.Format(time.RFC3339) {
		t.Fatalf("scheduled-timestamp annotation = %q", got)
	}
	if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		cur, err := s.Client.BatchV1().CronJobs("default").Get(ctx, "hello", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return cur.Status.LastScheduleTime != nil && cur.Status.LastScheduleTime.Time.Equal(slot) && len(cur.Status.Active)+boolInt(cur.Status.LastSuccessfulTime != nil) > 0, nil
	}); err != nil {
		t.Fatalf("cronjob status not updated: %v", err)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
