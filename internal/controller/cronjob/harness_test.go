package cronjob

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

// harness drives the controller against a fake clientset whose state is
// copied into the informer caches around every sync (a perfectly fresh
// cache), with a fake clock.
type harness struct {
	t       *testing.T
	clk     *clocktesting.FakeClock
	client  *fake.Clientset
	c       *Controller
	rec     *record.FakeRecorder
	factory informers.SharedInformerFactory
	uids    atomic.Int64
}

func newHarness(t *testing.T, now time.Time, objs ...runtime.Object) *harness {
	t.Helper()
	h := &harness{t: t, clk: clocktesting.NewFakeClock(now), client: fake.NewClientset(objs...)}
	h.client.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj := a.(k8stesting.CreateAction).GetObject()
		if m, err := meta.Accessor(obj); err == nil {
			if m.GetUID() == "" {
				m.SetUID(types.UID(fmt.Sprintf("uid-%d", h.uids.Add(1))))
			}
			m.SetCreationTimestamp(metav1.NewTime(h.clk.Now()))
		}
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(h.client, 0)
	c, err := NewController(h.client, factory, h.clk)
	if err != nil {
		t.Fatal(err)
	}
	h.rec = record.NewFakeRecorder(1000)
	c.recorder = h.rec
	h.c = c
	h.factory = factory
	t.Cleanup(c.queue.ShutDown)
	return h
}

// refresh replaces the caches with the API state.
func (h *harness) refresh() {
	h.t.Helper()
	ctx := context.Background()
	cjs, err := h.client.BatchV1().CronJobs("").List(ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	jobs, err := h.client.BatchV1().Jobs("").List(ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	var cjObjs, jobObjs []any
	for i := range cjs.Items {
		cjObjs = append(cjObjs, &cjs.Items[i])
	}
	for i := range jobs.Items {
		jobObjs = append(jobObjs, &jobs.Items[i])
	}
	if err := h.c.jobIndexer.Replace(jobObjs, ""); err != nil {
		h.t.Fatal(err)
	}
	if err := h.factory.Batch().V1().CronJobs().Informer().GetIndexer().Replace(cjObjs, ""); err != nil {
		h.t.Fatal(err)
	}
}

// sync runs one sync of default/name at the current fake time.
func (h *harness) sync(name string) *time.Duration {
	h.t.Helper()
	h.refresh()
	d, err := h.c.sync(context.Background(), "default/"+name)
	if err != nil {
		h.t.Fatalf("sync at %s: %v", h.clk.Now().UTC().Format(time.RFC3339), err)
	}
	return d
}

// syncAt moves the clock to at and syncs.
func (h *harness) syncAt(name string, at time.Time) *time.Duration {
	h.t.Helper()
	h.clk.SetTime(at)
	return h.sync(name)
}

// events drains the recorded events as "Type Reason Message".
func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func (h *harness) cronJob(name string) *batchv1.CronJob {
	h.t.Helper()
	cj, err := h.client.BatchV1().CronJobs("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return cj
}

// jobNames lists the Jobs in the API, sorted.
func (h *harness) jobNames() []string {
	h.t.Helper()
	jobs, err := h.client.BatchV1().Jobs("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	var names []string
	for _, j := range jobs.Items {
		names = append(names, j.Name)
	}
	sort.Strings(names)
	return names
}

// finishJob marks a Job Complete or Failed at the current fake time.
func (h *harness) finishJob(name string, cond batchv1.JobConditionType) {
	h.t.Helper()
	ctx := context.Background()
	j, err := h.client.BatchV1().Jobs("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	now := metav1.NewTime(h.clk.Now())
	j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: cond, Status: corev1.ConditionTrue, LastTransitionTime: now})
	if cond == batchv1.JobComplete {
		j.Status.CompletionTime = &now
	}
	if _, err := h.client.BatchV1().Jobs("default").UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func activeNames(cj *batchv1.CronJob) []string {
	var out []string
	for _, r := range cj.Status.Active {
		out = append(out, r.Name)
	}
	return out
}

func hasEvent(events []string, reason string) bool {
	for _, e := range events {
		if strings.Contains(e, " "+reason+" ") {
			return true
		}
	}
	return false
}

// newCronJob is a CronJob created at created with the given schedule.
func newCronJob(name, schedule string, created time.Time) *batchv1.CronJob {
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "default", UID: types.UID("cj-" + name),
			CreationTimestamp: metav1.NewTime(created),
		},
		Spec: batchv1.CronJobSpec{
			Schedule:                   schedule,
			ConcurrencyPolicy:          batchv1.AllowConcurrent,
			SuccessfulJobsHistoryLimit: ptr.To[int32](3),
			FailedJobsHistoryLimit:     ptr.To[int32](1),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyOnFailure,
					Containers:    []corev1.Container{{Name: "hello", Image: "busybox"}},
				}}},
			},
		},
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
