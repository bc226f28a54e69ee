package cronjob

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/batchlet/batchlet/internal/server/servertest"
)

// TestIntegrationCreatesJobOnSchedule runs the controller against a real
// in-process server with a fake clock moved to the next slot.
func TestIntegrationCreatesJobOnSchedule(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	s := servertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	cj := newCronJob("hello", "*/1 * * * *", time.Time{})
	cj.UID, cj.CreationTimestamp = "", metav1.Time{}
	created, err := s.Client.BatchV1().CronJobs("default").Create(ctx, cj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Start the fake clock just before the first slot after creation.
	slot := created.CreationTimestamp.Time.Truncate(time.Minute).Add(time.Minute)
	clk := clocktesting.NewFakeClock(slot.Add(-time.Second))
	factory := informers.NewSharedInformerFactory(s.Client, 0)
	c, err := NewController(s.Client, factory, clk)
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	go c.Run(ctx, 2)

	// Nothing before the slot; once the clock reaches it, the Job appears.
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return clk.HasWaiters(), nil
	}); err != nil {
		t.Fatal("controller never waited for the slot")
	}
	jobs, err := s.Client.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(jobs.Items) != 0 {
		t.Fatalf("jobs before the slot: %v %v", jobs, err)
	}
	clk.SetTime(slot)
	name := jobName(created, slot)
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
