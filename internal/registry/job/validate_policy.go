package job

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits of pod failure and success policies.
const (
	maxPodFailurePolicyRules                   = 20
	maxPodFailurePolicyOnExitCodesValues       = 255
	maxPodFailurePolicyOnPodConditionsPatterns = 20
	maxSuccessPolicyRules                      = 20
	maxSucceededIndexesLength                  = 64 * 1024
)

var (
	podFailurePolicyActions = sets.New(
		batchv1.PodFailurePolicyActionCount,
		batchv1.PodFailurePolicyActionFailIndex,
		batchv1.PodFailurePolicyActionFailJob,
		batchv1.PodFailurePolicyActionIgnore)
	onExitCodesOperators = sets.New(
		batchv1.PodFailurePolicyOnExitCodesOpIn,
		batchv1.PodFailurePolicyOnExitCodesOpNotIn)
	onPodConditionsStatuses = sets.New(
		corev1.ConditionFalse,
		corev1.ConditionTrue,
		corev1.ConditionUnknown)
	podReplacementPolicies = sets.New(
		batchv1.Failed,
		batchv1.TerminatingOrFailed)
)

func validatePodReplacementPolicy(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	if spec.PodReplacementPolicy == nil {
		return nil
	}
	p := *spec.PodReplacementPolicy
	if spec.PodFailurePolicy != nil {
		// A failure policy must see the final phase of a pod.
		if p != batchv1.Failed {
			return field.ErrorList{field.NotSupported(fldPath, p, []batchv1.PodReplacementPolicy{batchv1.Failed})}
		}
		return nil
	}
	if !podReplacementPolicies.Has(p) {
		return field.ErrorList{field.NotSupported(fldPath, p, sets.List(podReplacementPolicies))}
	}
	return nil
}

func validatePodFailurePolicy(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	rulesPath := fldPath.Child("rules")
	rules := spec.PodFailurePolicy.Rules
	if len(rules) > maxPodFailurePolicyRules {
		errs = append(errs, field.TooMany(rulesPath, len(rules), maxPodFailurePolicyRules))
	}
	names := sets.New[string]()
	for _, c := range spec.Template.Spec.Containers {
		names.Insert(c.Name)
	}
	for _, c := range spec.Template.Spec.InitContainers {
		names.Insert(c.Name)
	}
	for i := range rules {
		errs = append(errs, validatePodFailurePolicyRule(spec, &rules[i], rulesPath.Index(i), names)...)
	}
	return errs
}

func validatePodFailurePolicyRule(spec *batchv1.JobSpec, rule *batchv1.PodFailurePolicyRule, rulePath *field.Path, containers sets.Set[string]) field.ErrorList {
	var errs field.ErrorList
	actionPath := rulePath.Child("action")
	switch {
	case rule.Action == "":
		errs = append(errs, field.Required(actionPath, fmt.Sprintf("valid values: %q", sets.List(podFailurePolicyActions))))
	case rule.Action == batchv1.PodFailurePolicyActionFailIndex:
		if spec.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Invalid(actionPath, rule.Action, "requires the backoffLimitPerIndex to be set"))
		}
	case !podFailurePolicyActions.Has(rule.Action):
		errs = append(errs, field.NotSupported(actionPath, rule.Action, sets.List(podFailurePolicyActions)))
	}
	if rule.OnExitCodes != nil {
		errs = append(errs, validateOnExitCodes(rule.OnExitCodes, rulePath.Child("onExitCodes"), containers)...)
	}
	if len(rule.OnPodConditions) > 0 {
		errs = append(errs, validateOnPodConditions(rule.OnPodConditions, rulePath.Child("onPodConditions"))...)
	}
	if rule.OnExitCodes != nil && len(rule.OnPodConditions) > 0 {
		errs = append(errs, field.Invalid(rulePath, field.OmitValueType{}, "specifying both OnExitCodes and OnPodConditions is not supported"))
	}
	if rule.OnExitCodes == nil && len(rule.OnPodConditions) == 0 {
		errs = append(errs, field.Invalid(rulePath, field.OmitValueType{}, "specifying one of OnExitCodes and OnPodConditions is required"))
	}
	return errs
}

func validateOnPodConditions(patterns []batchv1.PodFailurePolicyOnPodConditionsPattern, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(patterns) > maxPodFailurePolicyOnPodConditionsPatterns {
		errs = append(errs, field.TooMany(fldPath, len(patterns), maxPodFailurePolicyOnPodConditionsPatterns))
	}
	for i, pat := range patterns {
		p := fldPath.Index(i)
		for _, msg := range utilvalidation.IsQualifiedName(string(pat.Type)) {
			errs = append(errs, field.Invalid(p.Child("type"), string(pat.Type), msg))
		}
		statusPath := p.Child("status")
		switch {
		case pat.Status == "":
			errs = append(errs, field.Required(statusPath, fmt.Sprintf("valid values: %q", sets.List(onPodConditionsStatuses))))
		case !onPodConditionsStatuses.Has(pat.Status):
			errs = append(errs, field.NotSupported(statusPath, pat.Status, sets.List(onPodConditionsStatuses)))
		}
	}
	return errs
}

func validateOnExitCodes(req *batchv1.PodFailurePolicyOnExitCodesRequirement, fldPath *field.Path, containers sets.Set[string]) field.ErrorList {
	var errs field.ErrorList
	opPath := fldPath.Child("operator")
	switch {
	case req.Operator == "":
		errs = append(errs, field.Required(opPath, fmt.Sprintf("valid values: %q", sets.List(onExitCodesOperators))))
	case !onExitCodesOperators.Has(req.Operator):
		errs = append(errs, field.NotSupported(opPath, req.Operator, sets.List(onExitCodesOperators)))
	}
	if req.ContainerName != nil && !containers.Has(*req.ContainerName) {
		errs = append(errs, field.Invalid(fldPath.Child("containerName"), *req.ContainerName,
			"must be one of the container or initContainer names in the pod template"))
	}
	valuesPath := fldPath.Child("values")
	if len(req.Values) == 0 {
		errs = append(errs, field.Invalid(valuesPath, req.Values, "at least one value is required"))
	} else if len(req.Values) > maxPodFailurePolicyOnExitCodesValues {
		errs = append(errs, field.TooMany(valuesPath, len(req.Values), maxPodFailurePolicyOnExitCodesValues))
	}
	ordered := true
	seen := sets.New[int32]()
	for i, v := range req.Values {
		p := valuesPath.Index(i)
		if req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && v == 0 {
			errs = append(errs, field.Invalid(p, v, "must not be 0 for the In operator"))
		}
		if seen.Has(v) {
			errs = append(errs, field.Duplicate(p, v))
		}
		seen.Insert(v)
		if i > 0 && req.Values[i-1] > v {
			ordered = false
		}
	}
	if !ordered {
		errs = append(errs, field.Invalid(valuesPath, req.Values, "must be ordered"))
	}
	return errs
}

// validateSuccessPolicy assumes an Indexed Job (checked by the caller).
func validateSuccessPolicy(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	rulesPath := fldPath.Child("rules")
	rules := spec.SuccessPolicy.Rules
	if len(rules) == 0 {
		errs = append(errs, field.Required(rulesPath, "at least one rules must be specified when the successPolicy is specified"))
	}
	if len(rules) > maxSuccessPolicyRules {
		errs = append(errs, field.TooMany(rulesPath, len(rules), maxSuccessPolicyRules))
	}
	for i := range rules {
		errs = append(errs, validateSuccessPolicyRule(spec, &rules[i], rulesPath.Index(i))...)
	}
	return errs
}

func validateSuccessPolicyRule(spec *batchv1.JobSpec, rule *batchv1.SuccessPolicyRule, rulePath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if rule.SucceededCount == nil && rule.SucceededIndexes == nil {
		errs = append(errs, field.Required(rulePath, "at least one of succeededCount or succeededIndexes must be specified"))
	}
	// A missing completions is reported by the completion mode checks;
	// treat it as zero here so nothing dereferences nil.
	var completions int32
	if spec.Completions != nil {
		completions = *spec.Completions
	}
	var total int32
	if rule.SucceededIndexes != nil {
		p := rulePath.Child("succeededIndexes")
		if len(*rule.SucceededIndexes) > maxSucceededIndexesLength {
			errs = append(errs, field.TooLong(p, *rule.SucceededIndexes, maxSucceededIndexesLength))
		}
		var err error
		if total, err = parseIndexes(*rule.SucceededIndexes, completions); err != nil {
			errs = append(errs, field.Invalid(p, *rule.SucceededIndexes, fmt.Sprintf("error parsing succeededIndexes: %s", err.Error())))
		}
	}
	if rule.SucceededCount != nil {
		p := rulePath.Child("succeededCount")
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*rule.SucceededCount), p)...)
		if *rule.SucceededCount > completions {
			errs = append(errs, field.Invalid(p, *rule.SucceededCount,
				fmt.Sprintf("must be less than or equal to %d (the number of specified completions)", completions)))
		}
		if rule.SucceededIndexes != nil && *rule.SucceededCount > total {
			errs = append(errs, field.Invalid(p, *rule.SucceededCount,
				fmt.Sprintf("must be less than or equal to %d (the number of indexes in the specified succeededIndexes field)", total)))
		}
	}
	return errs
}
