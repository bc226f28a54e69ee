package cronjob

import (
	"sort"

	batchv1 "k8s.io/api/batch/v1"
)

// jobsBeyondHistory returns the finished Jobs to delete: the oldest
// successful ones beyond successfulJobsHistoryLimit and the oldest failed
// ones beyond failedJobsHistoryLimit. Age is status.startTime (Jobs without
// one count as newest), ties broken by name.
func jobsBeyondHistory(cj *batchv1.CronJob, jobs []*batchv1.Job) []*batchv1.Job {
	var succeeded, failed []*batchv1.Job
	for _, j := range jobs {
		switch cond, _ := finishedCondition(j); cond {
		case batchv1.JobComplete:
			succeeded = append(succeeded, j)
		case batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	var out []*batchv1.Job
	out = append(out, oldestBeyond(succeeded, cj.Spec.SuccessfulJobsHistoryLimit)...)
	out = append(out, oldestBeyond(failed, cj.Spec.FailedJobsHistoryLimit)...)
	return out
}

func oldestBeyond(jobs []*batchv1.Job, limit *int32) []*batchv1.Job {
	if limit == nil {
		return nil
	}
	keep := max(int(*limit), 0)
	if len(jobs) <= keep {
		return nil
	}
	sorted := append([]*batchv1.Job(nil), jobs...)
	sort.SliceStable(sorted, func(a, b int) bool { return startedBefore(sorted[a], sorted[b]) })
	return sorted[:len(sorted)-keep]
}

func startedBefore(a, b *batchv1.Job) bool {
	as, bs := a.Status.StartTime, b.Status.StartTime
	switch {
	case bs == nil:
		return as != nil || a.Name < b.Name
	case as == nil:
		return false
	case as.Equal(bs):
		return a.Name < b.Name
	}
	return as.Before(bs)
}
