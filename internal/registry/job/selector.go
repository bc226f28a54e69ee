package job

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Legacy (unprefixed) labels the apiserver still puts on Job templates.
const (
	LegacyControllerUIDLabel = "controller-uid"
	LegacyJobNameLabel       = "job-name"
)

// generateSelector labels the template with the Job's name and UID and
// selects on the UID, unless the user manages the selector. Labels the
// user already set are left alone; a conflicting value fails validation.
func generateSelector(j *batchv1.Job) {
	if j.Spec.ManualSelector != nil && *j.Spec.ManualSelector {
		return
	}
	if j.Spec.Template.Labels == nil {
		j.Spec.Template.Labels = map[string]string{}
	}
	setIfAbsent(j.Spec.Template.Labels, LegacyJobNameLabel, j.Name)
	setIfAbsent(j.Spec.Template.Labels, batchv1.JobNameLabel, j.Name)
	setIfAbsent(j.Spec.Template.Labels, LegacyControllerUIDLabel, string(j.UID))
	setIfAbsent(j.Spec.Template.Labels, batchv1.ControllerUidLabel, string(j.UID))
	if j.Spec.Selector == nil {
		j.Spec.Selector = &metav1.LabelSelector{}
	}
	if j.Spec.Selector.MatchLabels == nil {
		j.Spec.Selector.MatchLabels = map[string]string{}
	}
	setIfAbsent(j.Spec.Selector.MatchLabels, batchv1.ControllerUidLabel, string(j.UID))
}

func setIfAbsent(m map[string]string, k, v string) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

// validateGeneratedSelector checks that a generated selector and template
// labels still identify this Job. requirePrefixed is false only for Jobs
// created before the batch.kubernetes.io/ labels existed.
func validateGeneratedSelector(j *batchv1.Job, requirePrefixed bool) field.ErrorList {
	if j.Spec.ManualSelector != nil && *j.Spec.ManualSelector {
		return nil
	}
	if j.Spec.Selector == nil {
		return nil // reported by the spec validation
	}
	var errs field.ErrorList
	if j.UID == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "uid"), ""))
	}
	metaPath := field.NewPath("spec", "template", "metadata")
	tl := j.Spec.Template.Labels
	errs = append(errs, validateHasLabel(tl, metaPath, LegacyControllerUIDLabel, string(j.UID))...)
	errs = append(errs, validateHasLabel(tl, metaPath, LegacyJobNameLabel, j.Name)...)
	expected := labels.Set{
		LegacyControllerUIDLabel: string(j.UID),
		LegacyJobNameLabel:       j.Name,
	}
	if requirePrefixed {
		errs = append(errs, validateHasLabel(tl, metaPath, batchv1.ControllerUidLabel, string(j.UID))...)
		errs = append(errs, validateHasLabel(tl, metaPath, batchv1.JobNameLabel, j.Name)...)
		expected[batchv1.ControllerUidLabel] = string(j.UID)
		expected[batchv1.JobNameLabel] = j.Name
	}
	if sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector); err == nil && !sel.Matches(expected) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "selector"), j.Spec.Selector, "`selector` not auto-generated"))
	}
	return errs
}

// validateHasLabel requires labels[key] == want, as core validation does
// for generated labels.
func validateHasLabel(l map[string]string, metaPath *field.Path, key, want string) field.ErrorList {
	p := metaPath.Child("labels").Key(key)
	msg := fmt.Sprintf("must be '%s'", want)
	got, ok := l[key]
	if !ok {
		return field.ErrorList{field.Required(p, msg)}
	}
	if got != want {
		return field.ErrorList{field.Invalid(p, l, msg)}
	}
	return nil
}
