package patch

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

// UpdateObjectManagedFields is UpdateManagedFields for callers holding
// typed objects: it records in newObj's managedFields, with operation
// Update, that manager set the fields differing from old (nil on create).
// It skips the JSON round trips, which cost as much as the bookkeeping
// itself, the schema validation of the typed objects and, on update, the
// comparison of top-level fields equal in both (see withoutEqualFields);
// the entries are those the plain field manager records. When every entry
// is at gvk's version it also skips that manager's decoding and encoding
// of unchanged entries (see fastUpdate). subresource is "" for the main
// resource or e.g. "status";
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
	if err := checkGoType(newObj, gvk); err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if old != nil {
		if err := checkGoType(old, gvk); err != nil {
			return nil, apierrors.NewInternalError(err)
		}
	}
	// Entries at other versions need converting the objects: the field
	// manager does that.
	if !sameVersion(gvk.GroupVersion().String(), old, newObj) {
		return chainManagedFields(old, newObj, gvk, manager, subresource)
	}
	if old != nil {
		old.GetObjectKind().SetGroupVersionKind(gvk)
	}
	newObj.GetObjectKind().SetGroupVersionKind(gvk)
	if out, err = fastUpdate(old, newObj, gvk, manager, subresource); err != nil {
		return nil, unknownError(err)
	}
	return out, nil
}

// newZero returns the empty object of gvk, with its kind set.
func newZero(gvk schema.GroupVersionKind) (runtime.Object, error) {
	obj, err := scheme.Scheme.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("new %v: %w", gvk, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, nil
}

// chainManagedFields records the update through apimachinery's field
// manager, over objects pruned of equal fields. The caller has checked
// the arguments as UpdateObjectManagedFields does.
func chainManagedFields(old, newObj runtime.Object, gvk schema.GroupVersionKind, manager, subresource string) (out runtime.Object, err error) {
	// A create compares with the zero object, from which nothing useful
	// can be pruned.
	live, changed, pruned := old, newObj, false
	if old == nil {
		if live, err = scheme.Scheme.New(gvk); err != nil {
			return nil, apierrors.NewInternalError(fmt.Errorf("new %v: %w", gvk, err))
		}
	}
	// The type converter finds the schema by the objects' kind.
	live.GetObjectKind().SetGroupVersionKind(gvk)
	newObj.GetObjectKind().SetGroupVersionKind(gvk)
	if old != nil {
		live, changed, pruned = withoutEqualFields(old, newObj)
	}
	use := useUpdate
	if sameVersion(gvk.GroupVersion().String(), live, newObj) {
		use = useSameVersion
	}
	fm, err := updateFieldManager(gvk, subresource, use)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	result, err := fm.Update(live, changed, manager)
	if err != nil {
		return nil, unknownError(err)
	}
	if !pruned {
		return result, nil
	}
	// The field manager returns the object it was given with its
	// managedFields set; only those go to the real object.
	if result != changed {
		return nil, apierrors.NewInternalError(fmt.Errorf("field manager of %v returned another object", gvk))
	}
	from, err := meta.Accessor(result)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	to, err := meta.Accessor(newObj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	to.SetManagedFields(from.GetManagedFields())
	return newObj, nil
}
