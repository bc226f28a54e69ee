package pod

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateContainers checks init or regular containers. names collects the
// container names across both lists (they must be unique pod-wide).
func validateContainers(containers []corev1.Container, volumes sets.Set[string], names sets.Set[string], spec *corev1.PodSpec, fldPath *field.Path, init bool) field.ErrorList {
	var errs field.ErrorList
	for i := range containers {
		c := &containers[i]
		idx := fldPath.Index(i)
		namePath := idx.Child("name")
		switch {
		case c.Name == "":
			errs = append(errs, field.Required(namePath, ""))
		default:
			errs = append(errs, validateDNS1123Label(c.Name, namePath)...)
			if names.Has(c.Name) {
				errs = append(errs, field.Duplicate(namePath, c.Name))
			}
			names.Insert(c.Name)
		}
		if c.Image == "" {
			errs = append(errs, field.Required(idx.Child("image"), ""))
		} else if strings.TrimSpace(c.Image) != c.Image {
			errs = append(errs, field.Invalid(idx.Child("image"), c.Image, "must not have leading or trailing whitespace"))
		}
		errs = append(errs, validatePullPolicy(c.ImagePullPolicy, idx.Child("imagePullPolicy"))...)
		errs = append(errs, validateTerminationMessagePolicy(c.TerminationMessagePolicy, idx.Child("terminationMessagePolicy"))...)
		errs = append(errs, validateContainerPorts(c.Ports, idx.Child("ports"))...)
		errs = append(errs, validateEnv(c.Env, idx.Child("env"))...)
		errs = append(errs, validateEnvFrom(c.EnvFrom, idx.Child("envFrom"))...)
		errs = append(errs, validateVolumeMounts(c.VolumeMounts, volumes, idx.Child("volumeMounts"))...)
		errs = append(errs, validateResources(&c.Resources, idx.Child("resources"))...)
		errs = append(errs, validateContainerProbes(c, init, idx)...)
		if c.Lifecycle != nil {
			if c.Lifecycle.PostStart != nil {
				errs = append(errs, validateHandler(lifecycleHandlers(c.Lifecycle.PostStart), idx.Child("lifecycle", "postStart"))...)
			}
			if c.Lifecycle.PreStop != nil {
				errs = append(errs, validateHandler(lifecycleHandlers(c.Lifecycle.PreStop), idx.Child("lifecycle", "preStop"))...)
			}
		}
		if c.RestartPolicy != nil {
			errs = append(errs, validateContainerRestartPolicy(*c.RestartPolicy, init, idx.Child("restartPolicy"))...)
		}
	}
	return errs
}

func validatePullPolicy(p corev1.PullPolicy, fldPath *field.Path) field.ErrorList {
	switch p {
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
		return nil
	case "":
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return field.ErrorList{field.NotSupported(fldPath, p, []string{string(corev1.PullAlways), string(corev1.PullIfNotPresent), string(corev1.PullNever)})}
}

func validateTerminationMessagePolicy(p corev1.TerminationMessagePolicy, fldPath *field.Path) field.ErrorList {
	switch p {
	case corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError:
		return nil
	case "":
		return field.ErrorList{field.Required(fldPath, "must be 'File' or 'FallbackToLogsOnError'")}
	}
	return field.ErrorList{field.Invalid(fldPath, p, "must be 'File' or 'FallbackToLogsOnError'")}
}

// validateContainerRestartPolicy: only init containers may set a
// container-level restartPolicy, and only Always (sidecars).
func validateContainerRestartPolicy(p corev1.ContainerRestartPolicy, init bool, fldPath *field.Path) field.ErrorList {
	if !init {
		return field.ErrorList{field.Forbidden(fldPath, "may not be set for non-init containers")}
	}
	if p != corev1.ContainerRestartPolicyAlways {
		return field.ErrorList{field.NotSupported(fldPath, p, []string{string(corev1.ContainerRestartPolicyAlways)})}
	}
	return nil
}

func validateContainerPorts(ports []corev1.ContainerPort, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, p := range ports {
		idx := fldPath.Index(i)
		if p.Name != "" {
			for _, msg := range validation.IsValidPortName(p.Name) {
				errs = append(errs, field.Invalid(idx.Child("name"), p.Name, msg))
			}
			if names.Has(p.Name) {
				errs = append(errs, field.Duplicate(idx.Child("name"), p.Name))
			}
			names.Insert(p.Name)
		}
		if p.ContainerPort == 0 {
			errs = append(errs, field.Required(idx.Child("containerPort"), ""))
		} else {
			for _, msg := range validation.IsValidPortNum(int(p.ContainerPort)) {
				errs = append(errs, field.Invalid(idx.Child("containerPort"), p.ContainerPort, msg))
			}
		}
		if p.HostPort != 0 {
			for _, msg := range validation.IsValidPortNum(int(p.HostPort)) {
				errs = append(errs, field.Invalid(idx.Child("hostPort"), p.HostPort, msg))
			}
		}
		errs = append(errs, validateProtocol(p.Protocol, idx.Child("protocol"))...)
	}
	return errs
}

func validateProtocol(p corev1.Protocol, fldPath *field.Path) field.ErrorList {
	switch p {
	case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		return nil
	case "":
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return field.ErrorList{field.NotSupported(fldPath, p, []string{string(corev1.ProtocolSCTP), string(corev1.ProtocolTCP), string(corev1.ProtocolUDP)})}
}

// validatePortNumOrName checks a probe or handler port.
func validatePortNumOrName(port intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch port.Type {
	case intstr.Int:
		for _, msg := range validation.IsValidPortNum(port.IntValue()) {
			errs = append(errs, field.Invalid(fldPath, port.IntValue(), msg))
		}
	case intstr.String:
		for _, msg := range validation.IsValidPortName(port.StrVal) {
			errs = append(errs, field.Invalid(fldPath, port.StrVal, msg))
		}
	default:
		errs = append(errs, field.InternalError(fldPath, errInvalidIntOrString))
	}
	return errs
}

func intstrFromInt32(n int32) intstr.IntOrString { return intstr.FromInt32(n) }
