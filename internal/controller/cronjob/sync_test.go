package cronjob

import (
	"context"
	"reflect"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// t0 is a minute boundary; the CronJobs below run every minute from it.
const t0 = "2024-05-06T10:00:00Z"

func minuteName(t *testing.T, name string, at string) string {
	return jobName(&batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: name}}, mustTime(t, at))
}

func TestFirstRunAndRequeue(t *testing.T) {
	start := mustTime(t, t0).Add(-15 * time.Second)
	h := newHarness(t, start, newCronJob("hello", "*/1 * * * *", start))

	if d := h.sync("hello"); d == nil || *d != 15*time.Second {
		t.Fatalf("requeue before the first slot = %v, want 15s", d)
	}
	if names := h.jobNames(); len(names) != 0 {
		t.Fatalf("jobs before the slot: %v", names)
	}
	d := h.syncAt("hello", mustTime(t, t0))
	if d == nil || *d != time.Minute {
		t.Fatalf("requeue after start = %v, want 1m", d)
	}
	want := minuteName(t, "hello", t0)
	if names := h.jobNames(); !reflect.DeepEqual(names, []string{want}) {
		t.Fatalf("jobs = %v, want [%s]", names, want)
	}
	cj := h.cronJob("hello")
	if !reflect.DeepEqual(activeNames(cj), []string{want}) || !cj.Status.LastScheduleTime.Time.Equal(mustTime(t, t0)) {
		t.Fatalf("status = %+v", cj.Status)
	}
	if ev := h.events(); !reflect.DeepEqual(ev, []string{"Normal SuccessfulCreate Created job " + want}) {
		t.Fatalf("events = %v", ev)
	}
	// A second sync in the same minute does nothing.
	h.syncAt("hello", mustTime(t, t0).Add(20*time.Second))
	if n := len(h.jobNames()); n != 1 {
		t.Fatalf("%d jobs after a repeated sync", n)
	}
	// The job finishes: it leaves active, lastSuccessfulTime follows.
	h.clk.SetTime(mustTime(t, t0).Add(30 * time.Second))
	h.finishJob(want, batchv1.JobComplete)
	h.sync("hello")
	cj = h.cronJob("hello")
	if len(cj.Status.Active) != 0 || cj.Status.LastSuccessfulTime == nil || !cj.Status.LastSuccessfulTime.Time.Equal(h.clk.Now().Truncate(time.Second)) {
		t.Fatalf("status after completion = %+v", cj.Status)
	}
	if ev := h.events(); !hasEvent(ev, "SawCompletedJob") {
		t.Fatalf("events = %v", ev)
	}
}

// longRunning creates the first Job at t0, keeps it running and syncs at
// the next slot.
func longRunning(t *testing.T, policy batchv1.ConcurrencyPolicy) *harness {
	t.Helper()
	start := mustTime(t, t0).Add(-time.Second)
	cj := newCronJob("c", "*/1 * * * *", start)
	cj.Spec.ConcurrencyPolicy = policy
	h := newHarness(t, start, cj)
	h.syncAt("c", mustTime(t, t0))
	h.events()
	h.syncAt("c", mustTime(t, t0).Add(time.Minute))
	return h
}

func TestConcurrencyPolicies(t *testing.T) {
	first := minuteName(t, "c", t0)
	second := minuteName(t, "c", "2024-05-06T10:01:00Z")

	t.Run("Allow", func(t *testing.T) {
		h := longRunning(t, batchv1.AllowConcurrent)
		if names := h.jobNames(); !reflect.DeepEqual(names, []string{first, second}) {
			t.Fatalf("jobs = %v", names)
		}
		if a := activeNames(h.cronJob("c")); !reflect.DeepEqual(a, []string{first, second}) {
			t.Fatalf("active = %v", a)
		}
	})

	t.Run("Forbid", func(t *testing.T) {
		h := longRunning(t, batchv1.ForbidConcurrent)
		if names := h.jobNames(); !reflect.DeepEqual(names, []string{first}) {
			t.Fatalf("jobs = %v", names)
		}
		ev := h.events()
		if !reflect.DeepEqual(ev, []string{"Normal JobAlreadyActive Not starting job because prior execution is running and concurrency policy is Forbid"}) {
			t.Fatalf("events = %v", ev)
		}
		cj := h.cronJob("c")
		if !cj.Status.LastScheduleTime.Time.Equal(mustTime(t, t0)) {
			t.Fatalf("lastScheduleTime advanced to %v", cj.Status.LastScheduleTime)
		}
		// When the first Job finishes, the skipped 10:01 slot starts at once.
		h.clk.SetTime(mustTime(t, "2024-05-06T10:01:30Z"))
		h.finishJob(first, batchv1.JobComplete)
		h.sync("c")
		if names := h.jobNames(); !reflect.DeepEqual(names, []string{first, second}) {
			t.Fatalf("jobs after the first finished = %v", names)
		}
		if a := activeNames(h.cronJob("c")); !reflect.DeepEqual(a, []string{second}) {
			t.Fatalf("active = %v", a)
		}
	})

	t.Run("Replace", func(t *testing.T) {
		h := longRunning(t, batchv1.ReplaceConcurrent)
		if names := h.jobNames(); !reflect.DeepEqual(names, []string{second}) {
			t.Fatalf("jobs = %v", names)
		}
		if a := activeNames(h.cronJob("c")); !reflect.DeepEqual(a, []string{second}) {
			t.Fatalf("active = %v", a)
		}
		ev := h.events()
		want := []string{"Normal SuccessfulDelete Deleted job " + first, "Normal SuccessfulCreate Created job " + second}
		if !reflect.DeepEqual(ev, want) {
			t.Fatalf("events = %v, want %v", ev, want)
		}
		// The replaced Job was deleted in the background.
		var policy *metav1.DeletionPropagation
		for _, a := range h.client.Actions() {
			if a.GetVerb() == "delete" && a.GetResource().Resource == "jobs" {
				policy = a.(interface{ GetDeleteOptions() metav1.DeleteOptions }).GetDeleteOptions().PropagationPolicy
			}
		}
		if policy == nil || *policy != metav1.DeletePropagationBackground {
			t.Fatalf("delete propagation = %v", policy)
		}
	})
}

func TestStartingDeadlineSkipsRun(t *testing.T) {
	start := mustTime(t, t0).Add(-time.Second)
	cj := newCronJob("late", "*/1 * * * *", start)
	cj.Spec.StartingDeadlineSeconds = ptr.To[int64](10)
	h := newHarness(t, start, cj)

	// The controller wakes 30s after the slot: too late.
	d := h.syncAt("late", mustTime(t, t0).Add(30*time.Second))
	if n := len(h.jobNames()); n != 0 {
		t.Fatalf("%d jobs created past the deadline", n)
	}
	// As upstream, slots older than the deadline are not even considered
	// (the search starts at now - startingDeadlineSeconds): no event.
	if ev := h.events(); len(ev) != 0 {
		t.Fatalf("events = %v", ev)
	}
	if d == nil || *d != 30*time.Second {
		t.Fatalf("requeue = %v, want 30s", d)
	}
	if h.cronJob("late").Status.LastScheduleTime != nil {
		t.Fatal("lastScheduleTime set for a missed run")
	}
	// Within the deadline of the next slot it runs.
	h.syncAt("late", mustTime(t, "2024-05-06T10:01:05Z"))
	if names := h.jobNames(); !reflect.DeepEqual(names, []string{minuteName(t, "late", "2024-05-06T10:01:00Z")}) {
		t.Fatalf("jobs = %v", names)
	}
}

func TestControllerDownThreeHours(t *testing.T) {
	for _, tc := range []struct {
		name, schedule string
		tooMany        bool
	}{
		{"hourly: few missed", "0 * * * *", false},
		{"every minute: over 100 missed", "*/1 * * * *", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cj := newCronJob("d", tc.schedule, mustTime(t, "2024-05-06T09:00:00Z"))
			cj.Status.LastScheduleTime = &metav1.Time{Time: mustTime(t, t0)}
			h := newHarness(t, mustTime(t, t0), cj)
			h.syncAt("d", mustTime(t, "2024-05-06T13:00:10Z"))
			want := []string{minuteName(t, "d", "2024-05-06T13:00:00Z")}
			if names := h.jobNames(); !reflect.DeepEqual(names, want) {
				t.Fatalf("jobs = %v, want one for the latest slot %v", names, want)
			}
			ev := h.events()
			if got := hasEvent(ev, "TooManyMissedTimes"); got != tc.tooMany {
				t.Fatalf("TooManyMissedTimes = %v, events %v", got, ev)
			}
			if !h.cronJob("d").Status.LastScheduleTime.Time.Equal(mustTime(t, "2024-05-06T13:00:00Z")) {
				t.Fatal("lastScheduleTime not the latest slot")
			}
		})
	}
}

func TestSuspendAndResume(t *testing.T) {
	start := mustTime(t, t0).Add(-time.Second)
	cj := newCronJob("s", "*/1 * * * *", start)
	cj.Spec.Suspend = ptr.To(true)
	h := newHarness(t, start, cj)
	for m := 0; m < 5; m++ {
		if d := h.syncAt("s", mustTime(t, t0).Add(time.Duration(m)*time.Minute)); d != nil {
			t.Fatalf("suspended cronjob requeued after %v", *d)
		}
	}
	if n := len(h.jobNames()); n != 0 {
		t.Fatalf("%d jobs while suspended", n)
	}
	// Resume at 10:04:30: the latest missed slot (10:04) runs at once.
	cur := h.cronJob("s")
	cur.Spec.Suspend = ptr.To(false)
	if _, err := h.client.BatchV1().CronJobs("default").Update(context.Background(), cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	d := h.syncAt("s", mustTime(t, "2024-05-06T10:04:30Z"))
	if names := h.jobNames(); !reflect.DeepEqual(names, []string{minuteName(t, "s", "2024-05-06T10:04:00Z")}) {
		t.Fatalf("jobs after resume = %v", names)
	}
	if d == nil || *d != 30*time.Second {
		t.Fatalf("requeue = %v", d)
	}
}

func TestSuspendedMissedRunsHonourDeadline(t *testing.T) {
	start := mustTime(t, t0).Add(-time.Second)
	cj := newCronJob("s", "*/1 * * * *", start)
	cj.Spec.StartingDeadlineSeconds = ptr.To[int64](20)
	h := newHarness(t, start, cj)
	h.syncAt("s", mustTime(t, "2024-05-06T10:04:30Z"))
	if n := len(h.jobNames()); n != 0 {
		t.Fatalf("%d jobs started beyond the deadline", n)
	}
}

func TestHistoryLimitsPruneOldest(t *testing.T) {
	base := mustTime(t, t0)
	cj := newCronJob("h", "0 0 1 1 *", base.Add(-time.Hour))
	cj.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](2)
	h := newHarness(t, base, cj)
	mk := func(name string, started time.Duration, cond batchv1.JobConditionType) {
		j, _ := jobFromTemplate(cj, base)
		j.Name = name
		j.Status.StartTime = &metav1.Time{Time: base.Add(started)}
		if _, err := h.client.BatchV1().Jobs("default").Create(context.Background(), j, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		h.finishJob(name, cond)
	}
	mk("ok-c", 3*time.Minute, batchv1.JobComplete)
	mk("ok-a", 1*time.Minute, batchv1.JobComplete)
	mk("ok-d", 4*time.Minute, batchv1.JobComplete)
	mk("ok-b", 2*time.Minute, batchv1.JobComplete)
	mk("bad-a", 1*time.Minute, batchv1.JobFailed)
	mk("bad-b", 2*time.Minute, batchv1.JobFailed)
	h.sync("h")
	if names := h.jobNames(); !reflect.DeepEqual(names, []string{"bad-b", "ok-c", "ok-d"}) {
		t.Fatalf("jobs kept = %v", names)
	}
	ev := h.events()
	for _, want := range []string{"Normal SuccessfulDelete Deleted job ok-a", "Normal SuccessfulDelete Deleted job ok-b", "Normal SuccessfulDelete Deleted job bad-a"} {
		found := false
		for _, e := range ev {
			found = found || e == want
		}
		if !found {
			t.Errorf("missing event %q in %v", want, ev)
		}
	}
}

func TestJobNotCreatedByCronJobLeftAlone(t *testing.T) {
	base := mustTime(t, t0)
	cj := newCronJob("own", "0 0 1 1 *", base.Add(-time.Hour))
	cj.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](0)
	h := newHarness(t, base, cj)
	ctx := context.Background()
	// A look-alike Job with the template's labels but no owner.
	stranger, _ := jobFromTemplate(cj, base)
	stranger.Name = "stranger"
	stranger.OwnerReferences = nil
	// A Job naming the CronJob as controller that it never started.
	unexpected, _ := jobFromTemplate(cj, base)
	unexpected.Name = "unexpected"
	for _, j := range []*batchv1.Job{stranger, unexpected} {
		if _, err := h.client.BatchV1().Jobs("default").Create(ctx, j, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	h.finishJob("stranger", batchv1.JobComplete)
	h.sync("own")
	if names := h.jobNames(); !reflect.DeepEqual(names, []string{"stranger", "unexpected"}) {
		t.Fatalf("jobs = %v", names)
	}
	cur := h.cronJob("own")
	if len(cur.Status.Active) != 0 || cur.Status.LastSuccessfulTime != nil {
		t.Fatalf("status = %+v", cur.Status)
	}
	ev := h.events()
	if !reflect.DeepEqual(ev, []string{"Warning UnexpectedJob Saw a job that the controller did not create or forgot: unexpected"}) {
		t.Fatalf("events = %v", ev)
	}
}

func TestMissingActiveJob(t *testing.T) {
	base := mustTime(t, t0)
	cj := newCronJob("m", "0 0 1 1 *", base.Add(-time.Hour))
	cj.Status.Active = append(cj.Status.Active, jobRef(&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "gone", Namespace: "default", UID: "gone"}}))
	h := newHarness(t, base, cj)
	h.sync("m")
	if a := h.cronJob("m").Status.Active; len(a) != 0 {
		t.Fatalf("active = %v", a)
	}
	if ev := h.events(); !reflect.DeepEqual(ev, []string{"Normal MissingJob Active job went missing: gone"}) {
		t.Fatalf("events = %v", ev)
	}
}

func TestBadScheduleAndTimeZone(t *testing.T) {
	base := mustTime(t, t0)
	bad := newCronJob("bad", "61 * * * *", base)
	zone := newCronJob("zone", "* * * * *", base)
	zone.Spec.TimeZone = ptr.To("Mars/Olympus")
	legacy := newCronJob("legacy", "TZ=UTC 0 0 1 1 *", base)
	h := newHarness(t, base, bad, zone, legacy)
	if d := h.sync("bad"); d != nil {
		t.Fatalf("requeue for an unparseable schedule: %v", *d)
	}
	if ev := h.events(); len(ev) != 1 || !hasEvent(ev, "UnparseableSchedule") {
		t.Fatalf("events = %v", ev)
	}
	if d := h.sync("zone"); d != nil {
		t.Fatalf("requeue for an unknown zone: %v", *d)
	}
	if ev := h.events(); len(ev) != 1 || !hasEvent(ev, "UnknownTimeZone") {
		t.Fatalf("events = %v", ev)
	}
	if d := h.sync("legacy"); d == nil {
		t.Fatal("legacy TZ schedule not requeued")
	}
	if ev := h.events(); len(ev) != 1 || !hasEvent(ev, "UnsupportedSchedule") {
		t.Fatalf("events = %v", ev)
	}
}
