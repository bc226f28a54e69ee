package pod

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// defaultTolerationSeconds is how long a pod stays bound to a node that
// became not-ready or unreachable, as the DefaultTolerationSeconds
// admission plugin sets it.
const defaultTolerationSeconds int64 = 300

// applyCreateAdmission does on pod create what upstream's default admission
// chain does for a pod without a priority class or service account:
// priority 0, preemption policy, service account "default" and the
// not-ready/unreachable NoExecute tolerations.
func applyCreateAdmission(pod *corev1.Pod) {
	spec := &pod.Spec
	if spec.PriorityClassName == "" && spec.Priority == nil {
		spec.Priority = ptr.To(int32(0))
	}
	if spec.PreemptionPolicy == nil {
		spec.PreemptionPolicy = ptr.To(corev1.PreemptLowerPriority)
	}
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = "default"
		spec.DeprecatedServiceAccount = "default"
	}
	addDefaultToleration(spec, corev1.TaintNodeNotReady)
	addDefaultToleration(spec, corev1.TaintNodeUnreachable)
}

// addDefaultToleration adds a NoExecute toleration for key unless the pod
// already tolerates that taint with effect NoExecute (or any effect).
func addDefaultToleration(spec *corev1.PodSpec, key string) {
	for _, t := range spec.Tolerations {
		if (t.Key == key || t.Key == "") && (t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
			return
		}
	}
	spec.Tolerations = append(spec.Tolerations, corev1.Toleration{
		Key:               key,
		Operator:          corev1.TolerationOpExists,
		Effect:            corev1.TaintEffectNoExecute,
		TolerationSeconds: ptr.To(defaultTolerationSeconds),
	})
}
