package pod

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// SetDefaultsPodSpec applies upstream's core/v1 defaults to a pod spec
// (restartPolicy, dnsPolicy, terminationGracePeriodSeconds, container
// terminationMessagePath/Policy, imagePullPolicy, ...).
func SetDefaultsPodSpec(spec *corev1.PodSpec) {
	// TODO: implemented by the pod registry.
}

// SetDefaultsPodTemplateSpec defaults a pod template as upstream does for
// Job and CronJob templates.
func SetDefaultsPodTemplateSpec(t *corev1.PodTemplateSpec) {
	SetDefaultsPodSpec(&t.Spec)
}

// ValidatePodTemplateSpec validates a pod template (its metadata labels and
// annotations and its spec) at fldPath, with upstream's messages.
func ValidatePodTemplateSpec(t *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	// TODO: implemented by the pod registry.
	return nil
}
