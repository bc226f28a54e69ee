package job

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// conditionTrue reports whether the list has a condition of type t with
// status True.
func conditionTrue(list []batchv1.JobCondition, t batchv1.JobConditionType) bool {
	for _, c := range list {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func isComplete(j *batchv1.Job) bool { return conditionTrue(j.Status.Conditions, batchv1.JobComplete) }
func isFailed(j *batchv1.Job) bool   { return conditionTrue(j.Status.Conditions, batchv1.JobFailed) }
func isFinished(j *batchv1.Job) bool { return isComplete(j) || isFailed(j) }

func isFailureTarget(j *batchv1.Job) bool {
	return conditionTrue(j.Status.Conditions, batchv1.JobFailureTarget)
}

func isSuccessCriteriaMet(j *batchv1.Job) bool {
	return conditionTrue(j.Status.Conditions, batchv1.JobSuccessCriteriaMet)
}
