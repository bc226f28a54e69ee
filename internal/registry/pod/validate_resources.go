package pod

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateResources checks a container's limits and requests: known
// resource names, non-negative quantities and requests not above limits.
func validateResources(r *corev1.ResourceRequirements, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	limPath := fldPath.Child("limits")
	for name, q := range r.Limits {
		p := limPath.Key(string(name))
		errs = append(errs, validateContainerResourceName(string(name), p)...)
		errs = append(errs, validateQuantity(q, p)...)
	}
	reqPath := fldPath.Child("requests")
	for name, q := range r.Requests {
		p := reqPath.Key(string(name))
		errs = append(errs, validateContainerResourceName(string(name), p)...)
		errs = append(errs, validateQuantity(q, p)...)
		if lim, ok := r.Limits[name]; ok && q.Cmp(lim) > 0 {
			errs = append(errs, field.Invalid(p, q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, lim.String())))
		}
		if strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix) {
			if lim, ok := r.Limits[name]; !ok || q.Cmp(lim) != 0 {
				errs = append(errs, field.Invalid(p, q.String(), fmt.Sprintf("must be equal to %s limit of %s", name, lim.String())))
			}
		}
	}
	return errs
}

func validateQuantity(q resource.Quantity, fldPath *field.Path) field.ErrorList {
	if q.Sign() < 0 {
		return field.ErrorList{field.Invalid(fldPath, q.String(), "must be greater than or equal to 0")}
	}
	return nil
}

// validateContainerResourceName accepts cpu, memory, ephemeral-storage,
// hugepages-<size> and extended (domain-qualified) resources.
func validateContainerResourceName(name string, fldPath *field.Path) field.ErrorList {
	for _, msg := range validation.IsQualifiedName(name) {
		return field.ErrorList{field.Invalid(fldPath, name, msg)}
	}
	if !strings.Contains(name, "/") {
		switch {
		case name == string(corev1.ResourceCPU), name == string(corev1.ResourceMemory),
			name == string(corev1.ResourceEphemeralStorage),
			strings.HasPrefix(name, corev1.ResourceHugePagesPrefix):
			return nil
		}
		if isStandardResourceName(name) {
			return field.ErrorList{field.Invalid(fldPath, name, "must be a standard resource for containers")}
		}
		return field.ErrorList{field.Invalid(fldPath, name, "must be a standard resource type or fully qualified")}
	}
	if strings.HasPrefix(name, corev1.ResourceDefaultNamespacePrefix) || strings.Contains(name, ".kubernetes.io/") {
		return field.ErrorList{field.Invalid(fldPath, name, "must be a standard resource for containers")}
	}
	return nil
}

func isStandardResourceName(name string) bool {
	switch corev1.ResourceName(name) {
	case corev1.ResourcePods, corev1.ResourceServices, corev1.ResourceReplicationControllers,
		corev1.ResourceQuotas, corev1.ResourceSecrets, corev1.ResourceConfigMaps,
		corev1.ResourcePersistentVolumeClaims, corev1.ResourceStorage,
		corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory:
		return true
	}
	return false
}
