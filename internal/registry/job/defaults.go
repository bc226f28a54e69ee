package job

import (
	"math"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/batchlet/batchlet/internal/registry/pod"
)

// defaultBackoffLimit is the number of retries a Job gets when it names
// none and has no per-index limit.
const defaultBackoffLimit = 6

// SetDefaults applies upstream's batch/v1 Job defaults, including those of
// its pod template.
func SetDefaults(j *batchv1.Job) {
	if j == nil {
		return
	}
	s := &j.Spec
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions = ptr.To[int32](1)
	}
	if s.Parallelism == nil {
		s.Parallelism = ptr.To[int32](1)
	}
	if s.BackoffLimit == nil {
		if s.BackoffLimitPerIndex != nil {
			s.BackoffLimit = ptr.To[int32](math.MaxInt32)
		} else {
			s.BackoffLimit = ptr.To[int32](defaultBackoffLimit)
		}
	}
	copyTemplateLabels(j)
	if s.CompletionMode == nil {
		s.CompletionMode = ptr.To(batchv1.NonIndexedCompletion)
	}
	if s.Suspend == nil {
		s.Suspend = ptr.To(false)
	}
	if s.PodReplacementPolicy == nil {
		if s.PodFailurePolicy != nil {
			s.PodReplacementPolicy = ptr.To(batchv1.Failed)
		} else {
			s.PodReplacementPolicy = ptr.To(batchv1.TerminatingOrFailed)
		}
	}
	if s.ManualSelector == nil {
		s.ManualSelector = ptr.To(false)
	}
	SetTemplateDefaults(&s.Template, s.PodFailurePolicy)
}

// SetTemplateDefaults applies the defaults that reach a Job spec nested in
// another object (a CronJob's jobTemplate): those of the pod template and
// of pod failure policy condition patterns. Upstream applies no other Job
// spec defaults there.
func SetTemplateDefaults(t *corev1.PodTemplateSpec, policy *batchv1.PodFailurePolicy) {
	pod.SetDefaultsPodTemplateSpec(t)
	if policy == nil {
		return
	}
	for i := range policy.Rules {
		conds := policy.Rules[i].OnPodConditions
		for k := range conds {
			if conds[k].Status == "" {
				conds[k].Status = corev1.ConditionTrue
			}
		}
	}
}

// copyTemplateLabels gives a Job without labels its template's labels.
// Upstream runs this defaulting on every decode, including reads from
// storage, so a stored Job also ends up with the labels generated on its
// template at create time; PrepareForCreate repeats it for that reason.
func copyTemplateLabels(j *batchv1.Job) {
	if len(j.Labels) != 0 || j.Spec.Template.Labels == nil {
		return
	}
	j.Labels = make(map[string]string, len(j.Spec.Template.Labels))
	for k, v := range j.Spec.Template.Labels {
		j.Labels[k] = v
	}
}
