package cronjob

import (
	"errors"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestNextDelayAcrossDST checks the wake-up delay computed from a fake
// "now" in a zone with daylight saving changes: the same wall-clock slot
// is 23h or 25h away across the change, a slot inside the skipped hour
// does not fire that day, and a slot inside the repeated hour fires twice
// (the behaviour of the cron parser upstream uses).
func TestNextDelayAcrossDST(t *testing.T) {
	tests := []struct {
		name, schedule, tz, now string
		want                    time.Duration
	}{
		{"daily 09:00 over spring forward", "0 9 * * *", "America/New_York", "2024-03-09T14:00:00Z", 23 * time.Hour},
		{"daily 09:00 over fall back", "0 9 * * *", "America/New_York", "2024-11-02T13:00:00Z", 25 * time.Hour},
		{"hourly inside the jump", "0 * * * *", "America/New_York", "2024-03-10T06:30:00Z", 30 * time.Minute},
		{"02:30 skipped on the spring-forward day", "30 2 * * *", "America/New_York", "2024-03-09T12:00:00Z", 42*time.Hour + 30*time.Minute},
		{"01:30 first of the repeated hour", "30 1 * * *", "America/New_York", "2024-11-03T04:00:00Z", 90 * time.Minute},
		{"01:30 again an hour later", "30 1 * * *", "America/New_York", "2024-11-03T05:30:00Z", time.Hour},
		{"Europe/Berlin daily 02:30 over spring forward", "30 2 * * *", "Europe/Berlin", "2024-03-30T01:30:00Z", 47 * time.Hour},
		{"UTC has no change", "0 9 * * *", "UTC", "2024-03-09T09:00:00Z", 24 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := mustTime(t, tc.now)
			cj := newCronJob("dst", tc.schedule, now)
			cj.Spec.TimeZone = ptr.To(tc.tz)
			// The slot at "now" (if any) was already taken.
			cj.Status.LastScheduleTime = &metav1.Time{Time: now}
			sched, err := parseSchedule(cj)
			if err != nil {
				t.Fatal(err)
			}
			if got := nextScheduleDelay(cj, now, sched); got != tc.want {
				t.Errorf("delay = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMostRecentScheduleTime(t *testing.T) {
	created := mustTime(t, "2024-05-06T10:00:00Z") // a Monday
	tests := []struct {
		name, schedule string
		last           string // lastScheduleTime, "" for none
		sds            *int64
		now            string
		want           string // "" for none
		tooMany        bool
		err            error
	}{
		{name: "nothing due yet", schedule: "*/5 * * * *", now: "2024-05-06T10:04:59Z"},
		{name: "first slot due", schedule: "*/5 * * * *", now: "2024-05-06T10:05:00Z", want: "2024-05-06T10:05:00Z"},
		{name: "one slot missed by some seconds", schedule: "*/5 * * * *", now: "2024-05-06T10:09:30Z", want: "2024-05-06T10:05:00Z"},
		{name: "three hours down, hourly", schedule: "0 * * * *", last: "2024-05-06T10:00:00Z", now: "2024-05-06T13:00:10Z", want: "2024-05-06T13:00:00Z"},
		{name: "three hours down, every minute", schedule: "*/1 * * * *", last: "2024-05-06T10:00:00Z", now: "2024-05-06T13:00:10Z", want: "2024-05-06T13:00:00Z", tooMany: true},
		{name: "exactly 100 missed is not too many", schedule: "*/1 * * * *", last: "2024-05-06T10:00:00Z", now: "2024-05-06T11:40:00Z", want: "2024-05-06T11:40:00Z"},
		{name: "101 missed is too many", schedule: "*/1 * * * *", last: "2024-05-06T10:00:00Z", now: "2024-05-06T11:41:00Z", want: "2024-05-06T11:41:00Z", tooMany: true},
		{name: "deadline bounds the count", schedule: "*/1 * * * *", last: "2024-05-06T10:00:00Z", sds: ptr.To[int64](300), now: "2024-05-06T13:00:10Z", want: "2024-05-06T13:00:00Z"},
		{name: "weekdays only, over a weekend", schedule: "0 10 * * 1-5", last: "2024-05-10T10:00:00Z", now: "2024-05-13T09:00:00Z"},
		{name: "weekdays only, long outage", schedule: "0 10 * * 1-5", last: "2024-01-01T10:00:00Z", now: "2024-05-12T09:00:00Z", want: "2024-05-10T10:00:00Z", tooMany: true},
		{name: "uneven hours", schedule: "0 1,2,23 * * *", last: "2024-05-06T23:00:00Z", now: "2024-05-09T22:00:00Z", want: "2024-05-09T02:00:00Z"},
		{name: "never fires", schedule: "0 0 30 2 *", now: "2024-06-01T00:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cj := newCronJob("m", tc.schedule, created)
			cj.Spec.TimeZone = ptr.To("UTC")
			cj.Spec.StartingDeadlineSeconds = tc.sds
			if tc.last != "" {
				cj.Status.LastScheduleTime = &metav1.Time{Time: mustTime(t, tc.last)}
			}
			sched, err := parseSchedule(cj)
			if err != nil {
				t.Fatal(err)
			}
			m, err := mostRecentScheduleTime(cj, mustTime(t, tc.now), sched, true)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			switch {
			case tc.want == "" && m.latest != nil:
				t.Errorf("latest = %v, want none", m.latest.UTC())
			case tc.want != "" && (m.latest == nil || !m.latest.Equal(mustTime(t, tc.want))):
				t.Errorf("latest = %v, want %s", m.latest, tc.want)
			}
			if m.tooMany != tc.tooMany {
				t.Errorf("tooMany = %v, want %v", m.tooMany, tc.tooMany)
			}
		})
	}
}

func TestScheduleSyntax(t *testing.T) {
	valid := []string{"*/2 * * * *", "0 0-23/2 * * *", "0 0 * jan,JUL mon-fri", "? * * * ?", "5/15 * * * *",
		"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
	for _, s := range valid {
		if _, err := parseSchedule(newCronJob("s", s, time.Time{})); err != nil {
			t.Errorf("%q: unexpected error %v", s, err)
		}
	}
	invalid := []string{"* * * * 7", "*/0 * * * *", "60 * * * *", "* * *", "0 0 * * * *", "@often"}
	for _, s := range invalid {
		if _, err := parseSchedule(newCronJob("s", s, time.Time{})); err == nil {
			t.Errorf("%q: parsed, want an error", s)
		}
	}
}

func TestJobFromTemplate(t *testing.T) {
	cj := newCronJob("hello", "*/1 * * * *", time.Time{})
	cj.Spec.TimeZone = ptr.To("Asia/Shanghai")
	cj.Spec.JobTemplate.Annotations = map[string]string{"note": "x"}
	slot := mustTime(t, "2019-02-22T11:02:00Z")
	job, err := jobFromTemplate(cj, slot)
	if err != nil {
		t.Fatal(err)
	}
	if want := "hello-25847222"; job.Name != want {
		t.Errorf("name = %s, want %s", job.Name, want)
	}
	if got := job.Annotations[batchv1.CronJobScheduledTimestampAnnotation]; got != "2019-02-22T19:02:00+08:00" {
		t.Errorf("scheduled-timestamp = %q", got)
	}
	if job.Annotations["note"] != "x" || job.Labels["app"] != "hello" {
		t.Errorf("template metadata not copied: %v %v", job.Labels, job.Annotations)
	}
	ref := metav1.GetControllerOf(job)
	if ref == nil || ref.Kind != "CronJob" || ref.APIVersion != "batch/v1" || ref.UID != cj.UID || !ptr.Deref(ref.BlockOwnerDeletion, false) {
		t.Errorf("controller ref = %+v", ref)
	}
	// Without a time zone the annotation is rendered in UTC.
	cj.Spec.TimeZone = nil
	job, _ = jobFromTemplate(cj, slot)
	if got := job.Annotations[batchv1.CronJobScheduledTimestampAnnotation]; got != "2019-02-22T11:02:00Z" {
		t.Errorf("scheduled-timestamp without timeZone = %q", got)
	}
	// The template is copied, not shared.
	job.Spec.Template.Spec.Containers[0].Name = "changed"
	if cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Name != "hello" {
		t.Error("job spec aliases the template")
	}
}
