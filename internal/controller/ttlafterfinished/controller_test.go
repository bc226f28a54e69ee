package ttlafterfinished

import (
	"context"
	"testing"
	"time"

	"github.com/batchlet/batchlet/internal/controller/queueworker"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

var finishedAt = time.Date(2024, 5, 6, 10, 0, 0, 0, time.UTC)

func finishedJob(name string, ttl *int32, cond batchv1.JobConditionType) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec:       batchv1.JobSpec{TTLSecondsAfterFinished: ttl},
		Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{
			{Type: cond, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(finishedAt)},
		}},
	}
}

type fixture struct {
	c      *Controller
	client *fake.Clientset
	clk    *clocktesting.FakeClock
}

func newFixture(t *testing.T, now time.Time, jobs ...*batchv1.Job) *fixture {
	t.Helper()
	client := fake.NewClientset()
	factory := informers.NewSharedInformerFactory(client, 0)
	clk := clocktesting.NewFakeClock(now)
	c, err := NewController(client, factory, clk)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.queue.ShutDown)
	for _, j := range jobs {
		if _, err := client.BatchV1().Jobs(j.Namespace).Create(context.Background(), j, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := factory.Batch().V1().Jobs().Informer().GetIndexer().Add(j); err != nil {
			t.Fatal(err)
		}
	}
	client.ClearActions()
	return &fixture{c: c, client: client, clk: clk}
}

func (f *fixture) deletes() []k8stesting.DeleteActionImpl {
	var out []k8stesting.DeleteActionImpl
	for _, a := range f.client.Actions() {
		if d, ok := a.(k8stesting.DeleteActionImpl); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestTTLZeroDeletesAtOnce(t *testing.T) {
	for _, cond := range []batchv1.JobConditionType{batchv1.JobComplete, batchv1.JobFailed} {
		t.Run(string(cond), func(t *testing.T) {
			job := finishedJob("zero", ptr.To[int32](0), cond)
			f := newFixture(t, finishedAt, job)
			if err := f.c.sync(context.Background(), "default/zero"); err != nil {
				t.Fatal(err)
			}
			d := f.deletes()
			if len(d) != 1 || d[0].Name != "zero" {
				t.Fatalf("deletes = %+v", d)
			}
			opts := d[0].DeleteOptions
			if opts.PropagationPolicy == nil || *opts.PropagationPolicy != metav1.DeletePropagationForeground {
				t.Errorf("propagation = %v, want Foreground", opts.PropagationPolicy)
			}
			if opts.Preconditions == nil || opts.Preconditions.UID == nil || *opts.Preconditions.UID != job.UID {
				t.Errorf("preconditions = %+v", opts.Preconditions)
			}
		})
	}
}

func TestTTLWaitsThenDeletes(t *testing.T) {
	f := newFixture(t, finishedAt.Add(30*time.Second), finishedJob("later", ptr.To[int32](100), batchv1.JobComplete))
	if err := f.c.sync(context.Background(), "default/later"); err != nil {
		t.Fatal(err)
	}
	if d := f.deletes(); len(d) != 0 {
		t.Fatalf("deleted before expiry: %+v", d)
	}
	// Requeued for the remaining 70s, not earlier.
	f.clk.Step(69 * time.Second)
	if f.c.queue.Len() != 0 {
		t.Fatal("requeued before the TTL expired")
	}
	f.clk.Step(time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for f.c.queue.Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("not requeued when the TTL expired")
		}
		time.Sleep(time.Millisecond)
	}
	if !queueworker.ProcessNext(context.Background(), f.c.queue, f.c.sync, f.c.syncFailed) {
		t.Fatal("queue shut down")
	}
	if d := f.deletes(); len(d) != 1 {
		t.Fatalf("deletes after expiry = %+v", d)
	}
}

func TestTTLReadsFreshJob(t *testing.T) {
	job := finishedJob("edited", ptr.To[int32](10), batchv1.JobComplete)
	f := newFixture(t, finishedAt.Add(time.Minute), job)
	// The TTL was raised after the cache saw the Job.
	fresh := job.DeepCopy()
	fresh.Spec.TTLSecondsAfterFinished = ptr.To[int32](3600)
	if _, err := f.client.BatchV1().Jobs("default").Update(context.Background(), fresh, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := f.c.sync(context.Background(), "default/edited"); err != nil {
		t.Fatal(err)
	}
	if d := f.deletes(); len(d) != 0 {
		t.Fatalf("deleted with a raised TTL: %+v", d)
	}
}

func TestCandidates(t *testing.T) {
	running := finishedJob("r", ptr.To[int32](0), batchv1.JobComplete)
	running.Status.Conditions = nil
	deleting := finishedJob("d", ptr.To[int32](0), batchv1.JobComplete)
	deleting.DeletionTimestamp = &metav1.Time{Time: finishedAt}
	falseCond := finishedJob("f", ptr.To[int32](0), batchv1.JobComplete)
	falseCond.Status.Conditions[0].Status = corev1.ConditionFalse
	tests := []struct {
		job  *batchv1.Job
		want bool
	}{
		{finishedJob("ok", ptr.To[int32](5), batchv1.JobFailed), true},
		{finishedJob("nottl", nil, batchv1.JobComplete), false},
		{running, false},
		{deleting, false},
		{falseCond, false},
	}
	for _, tc := range tests {
		if got := needsCleanup(tc.job); got != tc.want {
			t.Errorf("%s: needsCleanup = %v, want %v", tc.job.Name, got, tc.want)
		}
	}
	zero := finishedJob("z", ptr.To[int32](5), batchv1.JobComplete)
	zero.Status.Conditions[0].LastTransitionTime = metav1.Time{}
	if _, err := timeLeft(zero, finishedAt); err == nil {
		t.Error("no error for a zero finish time")
	}
}
