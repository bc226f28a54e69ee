package pod

import (
	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// SetDefaultsPodSpec applies upstream's core/v1 defaults to a pod spec
// (restartPolicy, dnsPolicy, terminationGracePeriodSeconds, container
// terminationMessagePath/Policy, imagePullPolicy, ...).
func SetDefaultsPodSpec(spec *corev1.PodSpec) {
	if spec != nil {
		setDefaultsPodSpec(spec)
	}
}

// SetDefaultsPodTemplateSpec defaults a pod template as upstream does for
// Job and CronJob templates.
func SetDefaultsPodTemplateSpec(t *corev1.PodTemplateSpec) {
	if t != nil {
		SetDefaultsPodSpec(&t.Spec)
	}
}

// ValidatePodTemplateSpec validates a pod template (its metadata labels and
// annotations and its spec) at fldPath, with upstream's messages.
func ValidatePodTemplateSpec(t *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	if t == nil {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	metaPath := fldPath.Child("metadata")
	errs := metav1validation.ValidateLabels(t.Labels, metaPath.Child("labels"))
	errs = append(errs, apimachineryvalidation.ValidateAnnotations(t.Annotations, metaPath.Child("annotations"))...)
	specPath := fldPath.Child("spec")
	errs = append(errs, validatePodSpec(&t.Spec, specPath)...)
	if len(t.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(specPath.Child("ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return errs
}
