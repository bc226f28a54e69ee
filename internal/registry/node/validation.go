package node

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const cidrMessage = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"

func validateNode(n *corev1.Node) field.ErrorList {
	spec := field.NewPath("spec")
	errs := validateTaints(n.Spec.Taints, spec.Child("taints"))
	if len(n.Spec.PodCIDRs) > 0 {
		p := spec.Child("podCIDRs")
		for i, c := range n.Spec.PodCIDRs {
			if _, err := netip.ParsePrefix(c); err != nil {
				errs = append(errs, field.Invalid(p.Index(i), c, cidrMessage))
			}
		}
		if len(n.Spec.PodCIDRs) > 2 {
			errs = append(errs, field.Invalid(p, n.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
		}
		if n.Spec.PodCIDR != "" && n.Spec.PodCIDR != n.Spec.PodCIDRs[0] {
			errs = append(errs, field.Invalid(spec.Child("podCIDR"), n.Spec.PodCIDR, "must match the first entry of podCIDRs"))
		}
	} else if n.Spec.PodCIDR != "" {
		if _, err := netip.ParsePrefix(n.Spec.PodCIDR); err != nil {
			errs = append(errs, field.Invalid(spec.Child("podCIDR"), n.Spec.PodCIDR, cidrMessage))
		}
	}
	st := field.NewPath("status")
	for k, q := range n.Status.Capacity {
		errs = append(errs, validateQuantity(q, st.Child("capacity").Key(string(k)))...)
	}
	for k, q := range n.Status.Allocatable {
		errs = append(errs, validateQuantity(q, st.Child("allocatable").Key(string(k)))...)
	}
	return errs
}

func validateQuantity(q resource.Quantity, p *field.Path) field.ErrorList {
	if q.Sign() < 0 {
		return field.ErrorList{field.Invalid(p, q.String(), "must be greater than or equal to 0")}
	}
	return nil
}

// validateTaints checks keys, values, effects and key/effect uniqueness.
func validateTaints(taints []corev1.Taint, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, t := range taints {
		idx := fldPath.Index(i)
		errs = append(errs, metav1validation.ValidateLabelName(t.Key, idx.Child("key"))...)
		for _, msg := range validation.IsValidLabelValue(t.Value) {
			errs = append(errs, field.Invalid(idx.Child("value"), t.Value, msg))
		}
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		case "":
			errs = append(errs, field.Required(idx.Child("effect"), ""))
		default:
			errs = append(errs, field.NotSupported(idx.Child("effect"), t.Effect, []string{
				string(corev1.TaintEffectNoSchedule), string(corev1.TaintEffectPreferNoSchedule), string(corev1.TaintEffectNoExecute),
			}))
		}
		key := t.Key + "/" + string(t.Effect)
		if seen[key] {
			errs = append(errs, field.Duplicate(idx, "taints must be unique by key and effect pair"))
		}
		seen[key] = true
	}
	return errs
}

// validateNodeUpdate: podCIDRs and providerID may only be set once; other
// spec fields than unschedulable and taints may not change.
func validateNodeUpdate(n, old *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if len(old.Spec.PodCIDRs) > 0 && !apiequality.Semantic.DeepEqual(n.Spec.PodCIDRs, old.Spec.PodCIDRs) {
		errs = append(errs, field.Forbidden(spec.Child("podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	if old.Spec.ProviderID != "" && n.Spec.ProviderID != old.Spec.ProviderID {
		errs = append(errs, field.Forbidden(spec.Child("providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	munged := n.Spec.DeepCopy()
	munged.Unschedulable = old.Spec.Unschedulable
	munged.Taints = old.Spec.Taints
	if len(old.Spec.PodCIDRs) == 0 {
		munged.PodCIDR, munged.PodCIDRs = old.Spec.PodCIDR, old.Spec.PodCIDRs
	}
	if old.Spec.ProviderID == "" {
		munged.ProviderID = old.Spec.ProviderID
	}
	if len(errs) == 0 && !apiequality.Semantic.DeepEqual(*munged, old.Spec) {
		errs = append(errs, field.Forbidden(field.NewPath(""), "node updates may only change labels, taints, or capacity (or configSource, if the DynamicKubeletConfig feature gate is enabled)"))
	}
	return errs
}
