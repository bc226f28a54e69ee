package cronjob

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestSetDefaults(t *testing.T) {
	cj := load(t, "hello.yaml")
	cj.Spec.JobTemplate.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
		Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}},
	}}}
	SetDefaults(cj)
	s := cj.Spec
	if s.ConcurrencyPolicy != batchv1.AllowConcurrent || !ptr.Equal(s.Suspend, ptr.To(false)) ||
		!ptr.Equal(s.SuccessfulJobsHistoryLimit, ptr.To[int32](3)) || !ptr.Equal(s.FailedJobsHistoryLimit, ptr.To[int32](1)) {
		t.Errorf("spec defaults = %+v", s)
	}
	js := s.JobTemplate.Spec
	if js.Template.Spec.DNSPolicy != corev1.DNSClusterFirst || js.Template.Spec.Containers[0].TerminationMessagePath == "" {
		t.Error("pod template defaults not applied")
	}
	if js.PodFailurePolicy.Rules[0].OnPodConditions[0].Status != corev1.ConditionTrue {
		t.Error("onPodConditions status not defaulted")
	}
	// Upstream leaves the Job spec fields of a template alone.
	if js.Completions != nil || js.Parallelism != nil || js.BackoffLimit != nil || js.Suspend != nil || js.CompletionMode != nil || js.ManualSelector != nil {
		t.Errorf("job template spec got Job defaults: %+v", js)
	}

	kept := &batchv1.CronJob{Spec: batchv1.CronJobSpec{ConcurrencyPolicy: batchv1.ForbidConcurrent, Suspend: ptr.To(true),
		SuccessfulJobsHistoryLimit: ptr.To[int32](0), FailedJobsHistoryLimit: ptr.To[int32](0)}}
	SetDefaults(kept)
	if kept.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent || !*kept.Spec.Suspend ||
		*kept.Spec.SuccessfulJobsHistoryLimit != 0 || *kept.Spec.FailedJobsHistoryLimit != 0 {
		t.Errorf("explicit values overwritten: %+v", kept.Spec)
	}
	SetDefaults(nil)
}
