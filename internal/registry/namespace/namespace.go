// Package namespace is the registry of core/v1 namespaces: DNS-label
// names, the kubernetes.io/metadata.name label, the "kubernetes" finalizer
// and phase Active on create, the status and finalize rules.
package namespace

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/batchlet/batchlet/internal/registry"
)

// Resource describes core/v1 namespaces.
func Resource() registry.Resource {
	return registry.Resource{
		GroupVersion:  corev1.SchemeGroupVersion,
		Kind:          "Namespace",
		ListKind:      "NamespaceList",
		Plural:        "namespaces",
		Singular:      "namespace",
		ShortNames:    []string{"ns"},
		Namespaced:    false,
		New:           func() runtime.Object { return &corev1.Namespace{} },
		NewList:       func() runtime.Object { return &corev1.NamespaceList{} },
		Strategy:      strategy{},
		Status:        statusStrategy{},
		Table:         table{},
		NameValidator: apimachineryvalidation.NameIsDNSLabel,
		Verbs:         []string{"create", "delete", "get", "list", "patch", "update", "watch"},
		Subresources: []registry.Subresource{
			{Name: "finalize", Kind: corev1.SchemeGroupVersion.WithKind("Namespace"), Verbs: []string{"update"}},
		},
	}
}

type strategy struct{}

// Default sets the immutable name label (on every write, so it cannot be
// removed or changed) and phase Active.
func (strategy) Default(obj runtime.Object) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return
	}
	if ns.Name != "" {
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels[corev1.LabelMetadataName] = ns.Name
	}
	if ns.Status.Phase == "" {
		ns.Status.Phase = corev1.NamespaceActive
	}
}

func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return
	}
	ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
	for _, f := range ns.Spec.Finalizers {
		if f == corev1.FinalizerKubernetes {
			return
		}
	}
	ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return nil
	}
	return validateFinalizers(ns.Spec.Finalizers, field.NewPath("spec", "finalizers"))
}

// PrepareForUpdate keeps spec.finalizers (changed only through
// /finalize) and status.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	ns, ok1 := obj.(*corev1.Namespace)
	oldNS, ok2 := old.(*corev1.Namespace)
	if !ok1 || !ok2 {
		return
	}
	ns.Spec.Finalizers = oldNS.Spec.Finalizers
	ns.Status = oldNS.Status
}

func (strategy) ValidateUpdate(ctx context.Context, obj, _ runtime.Object) field.ErrorList {
	return strategy{}.Validate(ctx, obj)
}

func (strategy) GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return nil, nil, fmt.Errorf("namespace registry: not a namespace: %T", obj)
	}
	return labels.Set(ns.Labels), fields.Set{"status.phase": string(ns.Status.Phase)}, nil
}

// validateFinalizers accepts "kubernetes" and fully qualified names.
func validateFinalizers(finalizers []corev1.FinalizerName, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, f := range finalizers {
		p := fldPath.Index(i)
		name := string(f)
		for _, msg := range validation.IsQualifiedName(name) {
			errs = append(errs, field.Invalid(p, name, msg))
		}
		if !strings.Contains(name, "/") && f != corev1.FinalizerKubernetes {
			errs = append(errs, field.Invalid(p, name, "name is neither a standard finalizer name nor is it fully qualified"))
		}
	}
	return errs
}

type statusStrategy struct{}

func (statusStrategy) PrepareForStatusUpdate(_ context.Context, obj, old runtime.Object) {
	ns, ok1 := obj.(*corev1.Namespace)
	oldNS, ok2 := old.(*corev1.Namespace)
	if ok1 && ok2 {
		ns.Spec = oldNS.Spec
	}
}

// ValidateStatusUpdate ties the phase to deletion: Active while
// deletionTimestamp is unset, Terminating once it is set.
func (statusStrategy) ValidateStatusUpdate(_ context.Context, obj, _ runtime.Object) field.ErrorList {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return nil
	}
	p := field.NewPath("status", "Phase")
	if ns.DeletionTimestamp.IsZero() {
		if ns.Status.Phase != corev1.NamespaceActive {
			return field.ErrorList{field.Invalid(p, ns.Status.Phase, "may only be 'Active' if `deletionTimestamp` is empty")}
		}
	} else if ns.Status.Phase != corev1.NamespaceTerminating {
		return field.ErrorList{field.Invalid(p, ns.Status.Phase, "may only be 'Terminating' if `deletionTimestamp` is not empty")}
	}
	return nil
}

// PrepareForFinalize is the rule of PUT namespaces/<name>/finalize: only
// spec.finalizers comes from the request; everything else is kept.
func PrepareForFinalize(obj, old runtime.Object) {
	ns, ok1 := obj.(*corev1.Namespace)
	oldNS, ok2 := old.(*corev1.Namespace)
	if !ok1 || !ok2 {
		return
	}
	finalizers := ns.Spec.Finalizers
	oldNS.DeepCopyInto(ns)
	ns.Spec.Finalizers = finalizers
}

// ValidateFinalize checks a finalize write.
func ValidateFinalize(obj runtime.Object) field.ErrorList {
	return strategy{}.Validate(context.Background(), obj)
}

// MarkTerminating is what deleting a namespace does while spec.finalizers
// is non-empty: it sets the phase to Terminating (the generic layer sets
// deletionTimestamp). It reports whether the namespace must stay; false
// means it can be removed at once.
func MarkTerminating(obj runtime.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	if !ok || len(ns.Spec.Finalizers) == 0 && len(ns.Finalizers) == 0 {
		return false
	}
	ns.Status.Phase = corev1.NamespaceTerminating
	return true
}

type table struct{}

func (table) Columns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
		{Name: "Status", Type: "string", Description: "The status of the namespace"},
		{Name: "Age", Type: "string", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
	}
}

func (table) Row(obj runtime.Object, now time.Time) ([]interface{}, error) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return nil, fmt.Errorf("namespace table: not a namespace: %T", obj)
	}
	return []interface{}{ns.Name, string(ns.Status.Phase), age(ns.CreationTimestamp, now)}, nil
}

func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}
