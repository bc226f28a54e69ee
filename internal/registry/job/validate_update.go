package job

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// updateOptions derives the validation options of an update from the
// stored Job.
func updateOptions(old *batchv1.Job) validationOptions {
	_, hadName := old.Spec.Template.Labels[batchv1.JobNameLabel]
	_, hadUID := old.Spec.Template.Labels[batchv1.ControllerUidLabel]
	suspended := old.Spec.Suspend != nil && *old.Spec.Suspend
	return validationOptions{
		requirePrefixedLabels:            hadName && hadUID,
		allowInvalidLabelValueInSelector: metav1validation.LabelSelectorHasInvalidLabelValue(old.Spec.Selector),
		allowMutableSchedulingDirectives: suspended && old.Status.StartTime == nil,
	}
}

// validateJobSpecUpdate checks what may not change on an existing Job.
func validateJobSpecUpdate(spec, old *batchv1.JobSpec, fldPath *field.Path, opts validationOptions) field.ErrorList {
	errs := validateCompletionsUpdate(spec, old, fldPath.Child("completions"))
	errs = append(errs, apivalidation.ValidateImmutableField(spec.Selector, old.Selector, fldPath.Child("selector"))...)
	errs = append(errs, validateTemplateUpdate(spec, old, fldPath, opts)...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.CompletionMode, old.CompletionMode, fldPath.Child("completionMode"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.PodFailurePolicy, old.PodFailurePolicy, fldPath.Child("podFailurePolicy"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.BackoffLimitPerIndex, old.BackoffLimitPerIndex, fldPath.Child("backoffLimitPerIndex"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.ManagedBy, old.ManagedBy, fldPath.Child("managedBy"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.SuccessPolicy, old.SuccessPolicy, fldPath.Child("successPolicy"))...)
	return errs
}

// validateCompletionsUpdate: completions is immutable except for Indexed
// Jobs, which may scale when completions and parallelism change together.
func validateCompletionsUpdate(spec, old *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	if !isIndexed(spec) {
		return apivalidation.ValidateImmutableField(spec.Completions, old.Completions, fldPath)
	}
	if apiequality.Semantic.DeepEqual(spec.Completions, old.Completions) || spec.Completions == nil {
		return nil // a nil completions is reported by the spec validation
	}
	if spec.Parallelism == nil || *spec.Completions != *spec.Parallelism {
		return field.ErrorList{field.Invalid(fldPath, spec.Completions,
			fmt.Sprintf("can only be modified in tandem with %s", fldPath.Root().Child("parallelism").String()))}
	}
	return nil
}

// validateTemplateUpdate: the pod template is immutable, except the
// scheduling directives of a suspended Job that never started.
func validateTemplateUpdate(spec, old *batchv1.JobSpec, fldPath *field.Path, opts validationOptions) field.ErrorList {
	t := &spec.Template
	oldT := &old.Template
	if opts.allowMutableSchedulingDirectives {
		oldT = old.Template.DeepCopy()
		switch {
		case t.Spec.Affinity == nil && oldT.Spec.Affinity != nil:
			// Clearing affinity is allowed when it held only node affinity.
			oldT.Spec.Affinity.NodeAffinity = nil
			if *oldT.Spec.Affinity == (corev1.Affinity{}) {
				oldT.Spec.Affinity = nil
			}
		case t.Spec.Affinity != nil && oldT.Spec.Affinity == nil:
			oldT.Spec.Affinity = &corev1.Affinity{NodeAffinity: t.Spec.Affinity.NodeAffinity}
		case t.Spec.Affinity != nil && oldT.Spec.Affinity != nil:
			oldT.Spec.Affinity.NodeAffinity = t.Spec.Affinity.NodeAffinity
		}
		oldT.Spec.NodeSelector = t.Spec.NodeSelector
		oldT.Spec.Tolerations = t.Spec.Tolerations
		oldT.Annotations = t.Annotations
		oldT.Labels = t.Labels
		oldT.Spec.SchedulingGates = t.Spec.SchedulingGates
	}
	return apivalidation.ValidateImmutableField(t, oldT, fldPath.Child("template"))
}
