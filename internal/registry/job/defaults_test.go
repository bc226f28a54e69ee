package job

import (
	"math"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestSetDefaults(t *testing.T) {
	tests := []struct {
		name  string
		spec  batchv1.JobSpec
		check func(t *testing.T, s *batchv1.JobSpec)
	}{
		{"both unset", batchv1.JobSpec{}, func(t *testing.T, s *batchv1.JobSpec) {
			eq(t, "completions", s.Completions, ptr.To[int32](1))
			eq(t, "parallelism", s.Parallelism, ptr.To[int32](1))
			eq(t, "backoffLimit", s.BackoffLimit, ptr.To[int32](6))
			eq(t, "completionMode", s.CompletionMode, ptr.To(batchv1.NonIndexedCompletion))
			eq(t, "suspend", s.Suspend, ptr.To(false))
			eq(t, "manualSelector", s.ManualSelector, ptr.To(false))
			eq(t, "podReplacementPolicy", s.PodReplacementPolicy, ptr.To(batchv1.TerminatingOrFailed))
		}},
		{"work queue keeps completions nil", batchv1.JobSpec{Parallelism: ptr.To[int32](2)}, func(t *testing.T, s *batchv1.JobSpec) {
			if s.Completions != nil {
				t.Errorf("completions = %d, want nil", *s.Completions)
			}
			eq(t, "parallelism", s.Parallelism, ptr.To[int32](2))
		}},
		{"completions only", batchv1.JobSpec{Completions: ptr.To[int32](5)}, func(t *testing.T, s *batchv1.JobSpec) {
			eq(t, "completions", s.Completions, ptr.To[int32](5))
			eq(t, "parallelism", s.Parallelism, ptr.To[int32](1))
		}},
		{"per-index backoff", batchv1.JobSpec{BackoffLimitPerIndex: ptr.To[int32](1)}, func(t *testing.T, s *batchv1.JobSpec) {
			eq(t, "backoffLimit", s.BackoffLimit, ptr.To[int32](math.MaxInt32))
		}},
		{"explicit values kept", batchv1.JobSpec{BackoffLimit: ptr.To[int32](0), Suspend: ptr.To(true), ManualSelector: ptr.To(true)}, func(t *testing.T, s *batchv1.JobSpec) {
			eq(t, "backoffLimit", s.BackoffLimit, ptr.To[int32](0))
			eq(t, "suspend", s.Suspend, ptr.To(true))
			eq(t, "manualSelector", s.ManualSelector, ptr.To(true))
		}},
		{"failure policy", batchv1.JobSpec{PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
			Action:          batchv1.PodFailurePolicyActionIgnore,
			OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}},
		}}}}, func(t *testing.T, s *batchv1.JobSpec) {
			eq(t, "podReplacementPolicy", s.PodReplacementPolicy, ptr.To(batchv1.Failed))
			if got := s.PodFailurePolicy.Rules[0].OnPodConditions[0].Status; got != corev1.ConditionTrue {
				t.Errorf("onPodConditions status = %q, want True", got)
			}
		}},
		{"template defaults", batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}},
			func(t *testing.T, s *batchv1.JobSpec) {
				if s.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
					t.Errorf("template restartPolicy = %q, want the core default Always", s.Template.Spec.RestartPolicy)
				}
				if s.Template.Spec.Containers[0].TerminationMessagePath == "" {
					t.Error("container defaults not applied")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &batchv1.Job{Spec: tt.spec}
			SetDefaults(j)
			tt.check(t, &j.Spec)
		})
	}
}

func TestSetDefaultsLabelsFromTemplate(t *testing.T) {
	j := &batchv1.Job{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{}}}
	j.Spec.Template.Labels = map[string]string{"app": "x"}
	SetDefaults(j)
	if j.Labels["app"] != "x" {
		t.Fatalf("labels = %v, want copied from template", j.Labels)
	}
	j.Labels["other"] = "y"
	if _, shared := j.Spec.Template.Labels["other"]; shared {
		t.Error("job labels alias the template's map")
	}

	own := &batchv1.Job{}
	own.Labels = map[string]string{"mine": "1"}
	own.Spec.Template.Labels = map[string]string{"app": "x"}
	SetDefaults(own)
	if len(own.Labels) != 1 || own.Labels["mine"] != "1" {
		t.Errorf("labels = %v, want the Job's own labels untouched", own.Labels)
	}
	SetDefaults(nil) // must not panic
}

func eq[T comparable](t *testing.T, name string, got, want *T) {
	t.Helper()
	if got == nil || *got != *want {
		t.Errorf("%s = %v, want %v", name, deref(got), *want)
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return "<nil>"
	}
	return *p
}
