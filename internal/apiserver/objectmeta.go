package apiserver

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Upstream's generated names: at most 63 characters, 5 of them random.
const (
	maxNameLength          = 63
	randomNameLength       = 5
	maxGeneratedNameLength = maxNameLength - randomNameLength
)

// generateName appends random characters to a generateName prefix.
func generateName(base string) string {
	if len(base) > maxGeneratedNameLength {
		base = base[:maxGeneratedNameLength]
	}
	return base + utilrand.String(randomNameLength)
}

// accessor returns obj's metadata or an internal error.
func accessor(obj runtime.Object) (metav1.Object, error) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, fmt.Errorf("object metadata of %T: %w", obj, err)
	}
	return acc, nil
}

// nameValidator is the kind's metadata.name rule.
func (res *resource) nameValidator() apivalidation.ValidateNameFunc {
	if res.NameValidator != nil {
		return apivalidation.ValidateNameFunc(res.NameValidator)
	}
	return apivalidation.NameIsDNSSubdomain
}

// fillCreateMeta sets the server-owned metadata of a new object.
func fillCreateMeta(acc metav1.Object, now time.Time) {
	acc.SetUID(uuid.NewUUID())
	acc.SetCreationTimestamp(metav1.NewTime(now.Truncate(time.Second)))
	acc.SetResourceVersion("")
	acc.SetDeletionTimestamp(nil)
	acc.SetDeletionGracePeriodSeconds(nil)
	acc.SetSelfLink("")
}

// validateCreateMeta checks ObjectMeta of a new object.
func (res *resource) validateCreateMeta(acc metav1.Object) field.ErrorList {
	return apivalidation.ValidateObjectMetaAccessor(acc, res.Namespaced, res.nameValidator(), field.NewPath("metadata"))
}

// keepUpdateMeta restores the server-owned metadata an update may not
// change, as upstream does before validating.
func keepUpdateMeta(acc, old metav1.Object) {
	acc.SetGeneration(old.GetGeneration())
	if acc.GetUID() == "" {
		acc.SetUID(old.GetUID())
	}
	if ts := old.GetCreationTimestamp(); !ts.IsZero() {
		acc.SetCreationTimestamp(ts)
	}
	acc.SetDeletionTimestamp(old.GetDeletionTimestamp())
	if old.GetDeletionGracePeriodSeconds() != nil {
		acc.SetDeletionGracePeriodSeconds(old.GetDeletionGracePeriodSeconds())
	}
	if acc.GetManagedFields() == nil {
		acc.SetManagedFields(old.GetManagedFields())
	}
	acc.SetSelfLink("")
}

// validateUpdateMeta checks ObjectMeta of an update.
func (res *resource) validateUpdateMeta(acc, old metav1.Object) field.ErrorList {
	errs := apivalidation.ValidateObjectMetaAccessor(acc, res.Namespaced, res.nameValidator(), field.NewPath("metadata"))
	return append(errs, apivalidation.ValidateObjectMetaAccessorUpdate(acc, old, field.NewPath("metadata"))...)
}

// readyToRemove reports whether an object being deleted has nothing left
// holding it: no finalizers and, for graceful kinds, no grace left.
func (res *resource) readyToRemove(obj runtime.Object) bool {
	acc, err := meta.Accessor(obj)
	if err != nil || acc.GetDeletionTimestamp() == nil || len(acc.GetFinalizers()) > 0 {
		return false
	}
	if ns, ok := obj.(*corev1.Namespace); ok && len(ns.Spec.Finalizers) > 0 {
		return false
	}
	if _, graceful := res.Strategy.(gracefulDeleter); graceful {
		g := acc.GetDeletionGracePeriodSeconds()
		return g == nil || *g == 0
	}
	return true
}
