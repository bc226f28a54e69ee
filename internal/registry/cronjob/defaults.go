package cronjob

import (
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/utils/ptr"

	"github.com/batchlet/batchlet/internal/registry/job"
)

// SetDefaults applies upstream's batch/v1 CronJob defaults. The job
// template only gets its pod template and failure-policy defaults: Job
// spec defaults (completions, backoffLimit, ...) are applied when the
// controller creates a Job from it.
func SetDefaults(cj *batchv1.CronJob) {
	if cj == nil {
		return
	}
	s := &cj.Spec
	if s.ConcurrencyPolicy == "" {
		s.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	if s.Suspend == nil {
		s.Suspend = ptr.To(false)
	}
	if s.SuccessfulJobsHistoryLimit == nil {
		s.SuccessfulJobsHistoryLimit = ptr.To[int32](3)
	}
	if s.FailedJobsHistoryLimit == nil {
		s.FailedJobsHistoryLimit = ptr.To[int32](1)
	}
	js := &s.JobTemplate.Spec
	job.SetTemplateDefaults(&js.Template, js.PodFailurePolicy)
}
