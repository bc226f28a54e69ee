package cronjob

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"

	// The tz database is embedded so that spec.timeZone works on hosts
	// without /usr/share/zoneinfo.
	_ "time/tzdata"
)

// tooManyMissed is the number of missed slots above which the controller
// warns (TooManyMissedTimes) while still starting the most recent one.
const tooManyMissed = 100

// nextScheduleDelta is added to the wake-up time of the next slot. Upstream
// adds 100ms; a wake-up that comes early is harmless here (the sync sees
// nothing due and requeues for the remainder), so waking exactly on the
// slot keeps the schedule skew low.
const nextScheduleDelta = 0

// errScheduleTooDense is returned for schedules firing more than once per
// second (only reachable with @every).
var errScheduleTooDense = errors.New("time difference between two schedules is less than 1 second")

// scheduleSpec returns the schedule string handed to the cron parser: the
// timeZone becomes a TZ= prefix; a schedule that already carries TZ or
// CRON_TZ is used as is and reported as unsupported.
func scheduleSpec(cj *batchv1.CronJob) (spec string, legacyTZ bool) {
	if strings.Contains(cj.Spec.Schedule, "TZ") {
		return cj.Spec.Schedule, true
	}
	if cj.Spec.TimeZone != nil {
		if _, err := time.LoadLocation(*cj.Spec.TimeZone); err != nil {
			return cj.Spec.Schedule, false
		}
		return fmt.Sprintf("TZ=%s %s", *cj.Spec.TimeZone, cj.Spec.Schedule), false
	}
	return cj.Spec.Schedule, false
}

// parseSchedule parses the CronJob's schedule in its time zone.
func parseSchedule(cj *batchv1.CronJob) (cron.Schedule, error) {
	spec, _ := scheduleSpec(cj)
	return cron.ParseStandard(spec)
}

// missed is the outcome of the missed-slot arithmetic.
type missed struct {
	// earliest is the time slots are counted from.
	earliest time.Time
	// latest is the most recent slot at or before now, nil if none.
	latest *time.Time
	// tooMany is set when more than tooManyMissed slots were missed.
	tooMany bool
}

// mostRecentScheduleTime finds the latest slot at or before now, counting
// from lastScheduleTime (or the creation time) and, when withDeadline is
// set, from no earlier than now - startingDeadlineSeconds.
func mostRecentScheduleTime(cj *batchv1.CronJob, now time.Time, sched cron.Schedule, withDeadline bool) (missed, error) {
	earliest := cj.CreationTimestamp.Time
	if cj.Status.LastScheduleTime != nil {
		earliest = cj.Status.LastScheduleTime.Time
	}
	if withDeadline && cj.Spec.StartingDeadlineSeconds != nil {
		deadline := now.Add(-time.Duration(*cj.Spec.StartingDeadlineSeconds) * time.Second)
		if deadline.After(earliest) {
			earliest = deadline
		}
	}
	m := missed{earliest: earliest}
	t1 := sched.Next(earliest)
	if t1.IsZero() || now.Before(t1) {
		return m, nil
	}
	t2 := sched.Next(t1)
	if t2.IsZero() || now.Before(t2) {
		m.latest = &t1
		return m, nil
	}
	interval := t2.Sub(t1).Round(time.Second)
	if interval < time.Second {
		return m, errScheduleTooDense
	}
	count := int64(now.Sub(t1)/interval) + 1
	m.tooMany = count > tooManyMissed
	latest := latestSlotAtOrBefore(sched, t1, now, interval)
	m.latest = &latest
	return m, nil
}

// latestSlotAtOrBefore returns the last slot of sched in [first, now],
// given that first is a slot. Schedules need not be uniform (weekdays only,
// uneven hour lists), so instead of trusting first + k*interval it looks
// back from now in growing windows until a window holds a slot, then walks
// that window forward; the walk is short whatever the outage length.
func latestSlotAtOrBefore(sched cron.Schedule, first, now time.Time, interval time.Duration) time.Time {
	from := first
	for window := 2 * interval; ; window *= 2 {
		start := now.Add(-window)
		if !start.After(first) {
			break
		}
		if next := sched.Next(start); !next.IsZero() && !next.After(now) {
			from = next
			break
		}
	}
	latest := from
	for t := sched.Next(from); !t.IsZero() && !t.After(now); t = sched.Next(t) {
		latest = t
	}
	return latest
}

// nextScheduleDelay is how long to wait until the slot after the most
// recent one (or after now when the arithmetic fails).
func nextScheduleDelay(cj *batchv1.CronJob, now time.Time, sched cron.Schedule) time.Duration {
	m, err := mostRecentScheduleTime(cj, now, sched, false)
	from := m.earliest
	switch {
	case err != nil:
		from = now
	case m.latest != nil:
		from = *m.latest
	}
	next := sched.Next(from)
	if next.IsZero() {
		// The schedule never fires again (e.g. 30 February); check back
		// daily in case the clock moved.
		return 24 * time.Hour
	}
	d := next.Add(nextScheduleDelta).Sub(now)
	if d < 0 {
		d = 0
	}
	return d
}
