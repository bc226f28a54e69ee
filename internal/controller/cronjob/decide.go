package cronjob

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// event is one event to record on the CronJob.
type event struct {
	eventType, reason, message string
}

// startDecision is what the schedule says to do now.
type startDecision struct {
	// slot is the scheduled time to start a Job for; nil means none.
	slot *time.Time
	// replace asks for every active Job to be deleted before starting.
	replace bool
	// requeue is when to look again; nil means only on the next change.
	requeue *time.Duration
	events  []event
}

// decideStart applies the schedule, time zone, suspend, starting deadline
// and concurrency policy to a CronJob whose status.active is already
// reconciled with its Jobs. It is a pure function of its inputs.
func decideStart(cj *batchv1.CronJob, now time.Time) startDecision {
	var d startDecision
	if tz := cj.Spec.TimeZone; tz != nil {
		if _, err := time.LoadLocation(*tz); err != nil {
			d.events = append(d.events, event{corev1.EventTypeWarning, "UnknownTimeZone",
				fmt.Sprintf("invalid timeZone: %q: %s", *tz, err)})
			return d
		}
	}
	if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		return d
	}
	if _, legacyTZ := scheduleSpec(cj); legacyTZ {
		d.events = append(d.events, event{corev1.EventTypeWarning, "UnsupportedSchedule",
			fmt.Sprintf("CRON_TZ or TZ used in schedule %q is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details", cj.Spec.Schedule)})
	}
	sched, err := parseSchedule(cj)
	if err != nil {
		d.events = append(d.events, event{corev1.EventTypeWarning, "UnparseableSchedule",
			fmt.Sprintf("unparseable schedule: %q : %s", cj.Spec.Schedule, err)})
		return d
	}
	m, err := mostRecentScheduleTime(cj, now, sched, true)
	if err != nil {
		d.events = append(d.events, event{corev1.EventTypeWarning, "InvalidSchedule",
			fmt.Sprintf("invalid schedule: %s : %s", cj.Spec.Schedule, err)})
		return d
	}
	delay := nextScheduleDelay(cj, now, sched)
	d.requeue = &delay
	if m.latest == nil {
		return d
	}
	slot := *m.latest
	if m.tooMany {
		d.events = append(d.events, event{corev1.EventTypeWarning, "TooManyMissedTimes",
			"too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"})
	}
	if sds := cj.Spec.StartingDeadlineSeconds; sds != nil && slot.Add(time.Duration(*sds)*time.Second).Before(now) {
		d.events = append(d.events, event{corev1.EventTypeWarning, "MissSchedule",
			fmt.Sprintf("Missed scheduled time to start a job: %s", slot.UTC().Format(time.RFC1123Z))})
		return d
	}
	if inActiveByName(cj, jobName(cj, slot)) || (cj.Status.LastScheduleTime != nil && cj.Status.LastScheduleTime.Time.Equal(slot)) {
		return d
	}
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.ForbidConcurrent:
		if len(cj.Status.Active) > 0 {
			d.events = append(d.events, event{corev1.EventTypeNormal, "JobAlreadyActive",
				"Not starting job because prior execution is running and concurrency policy is Forbid"})
			return d
		}
	case batchv1.ReplaceConcurrent:
		d.replace = len(cj.Status.Active) > 0
	}
	d.slot = &slot
	return d
}
