package pod

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var podPhases = []string{
	string(corev1.PodPending), string(corev1.PodRunning), string(corev1.PodSucceeded),
	string(corev1.PodFailed), string(corev1.PodUnknown),
}

// validatePodStatusUpdate checks a /status write: a known phase, valid
// custom condition types, an unchanged QoS class, no terminated container
// coming back to life unless the restart policy allows it, and valid IPs.
func validatePodStatusUpdate(pod, old *corev1.Pod) field.ErrorList {
	var errs field.ErrorList
	st := field.NewPath("status")
	switch pod.Status.Phase {
	case "", corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed, corev1.PodUnknown:
	default:
		errs = append(errs, field.NotSupported(st.Child("phase"), pod.Status.Phase, podPhases))
	}
	for i, c := range pod.Status.Conditions {
		switch c.Type {
		case corev1.PodScheduled, corev1.PodReady, corev1.PodInitialized:
			continue
		}
		for _, msg := range validation.IsQualifiedName(string(c.Type)) {
			errs = append(errs, field.Invalid(st.Child("conditions").Index(i).Child("type"), string(c.Type), msg))
		}
	}
	if old.Status.QOSClass != "" {
		errs = append(errs, apimachineryvalidation.ValidateImmutableField(pod.Status.QOSClass, old.Status.QOSClass, st.Child("qosClass"))...)
	}
	if nn := pod.Status.NominatedNodeName; nn != "" && nn != old.Status.NominatedNodeName {
		for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(nn, false) {
			errs = append(errs, field.Invalid(st.Child("nominatedNodeName"), nn, msg))
		}
	}
	errs = append(errs, validateStateTransitions(pod.Status.ContainerStatuses, old.Status.ContainerStatuses, old.Spec.RestartPolicy, nil, st.Child("containerStatuses"))...)
	errs = append(errs, validateStateTransitions(pod.Status.InitContainerStatuses, old.Status.InitContainerStatuses, old.Spec.RestartPolicy, old.Spec.InitContainers, st.Child("initContainerStatuses"))...)
	errs = append(errs, validateIPs(pod.Status.PodIPs, st.Child("podIPs"))...)
	return errs
}

// validateStateTransitions forbids a terminated container from becoming
// non-terminated when the pod's restart policy would not restart it
// (sidecar init containers always may).
func validateStateTransitions(statuses, oldStatuses []corev1.ContainerStatus, policy corev1.RestartPolicy, inits []corev1.Container, fldPath *field.Path) field.ErrorList {
	if policy == corev1.RestartPolicyAlways {
		return nil
	}
	var errs field.ErrorList
	for i, o := range oldStatuses {
		if o.State.Terminated == nil {
			continue
		}
		if o.State.Terminated.ExitCode != 0 && policy == corev1.RestartPolicyOnFailure {
			continue
		}
		if isSidecar(inits, o.Name) {
			continue
		}
		for _, n := range statuses {
			if n.Name == o.Name && n.State.Terminated == nil {
				errs = append(errs, field.Forbidden(fldPath.Index(i).Child("state"), "may not be transitioned to non-terminated state"))
			}
		}
	}
	return errs
}

func isSidecar(inits []corev1.Container, name string) bool {
	for _, c := range inits {
		if c.Name == name {
			return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		}
	}
	return false
}

func validateIPs(ips []corev1.PodIP, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, ip := range ips {
		p := fldPath.Index(i)
		if _, err := netip.ParseAddr(ip.IP); err != nil {
			errs = append(errs, field.Invalid(p, ip.IP, "must be a valid IP address"))
		}
		if seen[ip.IP] {
			errs = append(errs, field.Duplicate(p, ip.IP))
		}
		seen[ip.IP] = true
	}
	if len(ips) > 2 {
		errs = append(errs, field.TooMany(fldPath, len(ips), 2))
	}
	return errs
}
