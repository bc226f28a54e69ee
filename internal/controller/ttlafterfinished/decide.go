package ttlafterfinished

import (
	"errors"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// needsCleanup reports whether the Job is a candidate: it has a TTL, has
// finished and is not already being deleted.
func needsCleanup(j *batchv1.Job) bool {
	return j.Spec.TTLSecondsAfterFinished != nil && j.DeletionTimestamp == nil && finished(j)
}

func finished(j *batchv1.Job) bool {
	_, ok := finishTime(j)
	return ok
}

// finishTime is the lastTransitionTime of the Complete or Failed condition.
func finishTime(j *batchv1.Job) (time.Time, bool) {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time, true
		}
	}
	return time.Time{}, false
}

// timeLeft returns how long until the Job expires (<= 0: expired). It
// errors when the Job is not a candidate or its finish time is unknown.
func timeLeft(j *batchv1.Job, now time.Time) (time.Duration, error) {
	if !needsCleanup(j) {
		return 0, errors.New("job is not a cleanup candidate")
	}
	ft, _ := finishTime(j)
	if ft.IsZero() {
		return 0, fmt.Errorf("unable to find the time when the Job %s/%s finished", j.Namespace, j.Name)
	}
	expireAt := ft.Add(time.Duration(*j.Spec.TTLSecondsAfterFinished) * time.Second)
	return expireAt.Sub(now), nil
}
