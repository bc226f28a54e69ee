package patch

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

// UpdateObjectManagedFields is UpdateManagedFields for callers holding
// typed objects: it records in newObj's managedFields, with operation
// Update, that manager set the fields differing from old (nil on create).
// It skips the JSON round trips, which cost as much as the bookkeeping
// itself. subresource is "" for the main resource or e.g. "status";
// entries written through a subresource carry its name, as upstream.
// newObj may be modified; the result is the object to store. Both objects
// must be of gvk's Go type.
func UpdateObjectManagedFields(old, newObj runtime.Object, gvk schema.GroupVersionKind, manager, subresource string) (out runtime.Object, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, recovered(p)
		}
	}()
	if manager == "" {
		return nil, apierrors.NewInternalError(fmt.Errorf("a field manager name is required"))
	}
	if newObj == nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("no object to record managedFields in"))
	}
	fm, err := subresourceFieldManager(gvk, subresource)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	live := old
	if live == nil {
		if live, err = scheme.Scheme.New(gvk); err != nil {
			return nil, apierrors.NewInternalError(fmt.Errorf("new %v: %w", gvk, err))
		}
	}
	// The type converter finds the schema by the objects' kind.
	live.GetObjectKind().SetGroupVersionKind(gvk)
	newObj.GetObjectKind().SetGroupVersionKind(gvk)
	result, err := fm.Update(live, newObj, manager)
	if err != nil {
		return nil, unknownError(err)
	}
	return result, nil
}
