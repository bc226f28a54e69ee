package patch

import (
	"fmt"
	"reflect"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// updateConverter is the type converter of the field managers that record
// Update operations. Their objects are Go structs of the kind's own type
// (the server decoded them), so they are wrapped for structured-merge-diff
// without the validation walk: a validation pass costs as much as the
// comparison that follows it, and what it could reject in a typed struct
// (an associative list item missing a key) the comparison rejects too.
// Apply keeps the validating converter: its configuration is free-form.
type updateConverter struct {
	base managedfields.TypeConverter
	// sameVersionOf, when set, makes TypedToObject answer an object that
	// carries only this kind. The field manager converts a typed value
	// back to an object only to learn its version before converting it
	// to a manager's version, and skips the conversion when they are
	// equal; with every manager at the kind's version (the callers
	// check), the full conversion to unstructured is wasted work.
	sameVersionOf *schema.GroupVersionKind
}

// updateTypes caches per kind the typed zero object, whose schema and
// type reference serve every object of the kind.
var updateTypes sync.Map // schema.GroupVersionKind -> *typed.TypedValue

// ObjectToTyped wraps obj as a typed value of its kind's schema.
func (c *updateConverter) ObjectToTyped(obj runtime.Object, opts ...typed.ValidationOptions) (*typed.TypedValue, error) {
	if _, isUnstructured := obj.(*unstructured.Unstructured); isUnstructured {
		return c.base.ObjectToTyped(obj, opts...)
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	zero, err := c.zeroTyped(gvk)
	if err != nil {
		return nil, err
	}
	v, err := value.NewValueReflect(obj)
	if err != nil {
		return nil, fmt.Errorf("reflecting %v: %w", gvk, err)
	}
	return typed.AsTypedUnvalidated(v, zero.Schema(), zero.TypeRef()), nil
}

// TypedToObject is the base converter's, or an object carrying only the
// kind (see sameVersionOf).
func (c *updateConverter) TypedToObject(tv *typed.TypedValue) (runtime.Object, error) {
	if c.sameVersionOf != nil {
		u := &unstructured.Unstructured{Object: map[string]any{}}
		u.SetGroupVersionKind(*c.sameVersionOf)
		return u, nil
	}
	return c.base.TypedToObject(tv)
}

// zeroTyped converts (once per kind, through the validating converter) the
// zero object of gvk.
func (c *updateConverter) zeroTyped(gvk schema.GroupVersionKind) (*typed.TypedValue, error) {
	if tv, ok := updateTypes.Load(gvk); ok {
		return tv.(*typed.TypedValue), nil
	}
	zero, err := scheme.Scheme.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("new %v: %w", gvk, err)
	}
	zero.GetObjectKind().SetGroupVersionKind(gvk)
	tv, err := c.base.ObjectToTyped(zero)
	if err != nil {
		return nil, fmt.Errorf("schema of %v: %w", gvk, err)
	}
	actual, _ := updateTypes.LoadOrStore(gvk, tv)
	return actual.(*typed.TypedValue), nil
}

// checkGoType rejects an object that is not of gvk's Go type: the schema
// is chosen by gvk and would not describe it.
func checkGoType(obj runtime.Object, gvk schema.GroupVersionKind) error {
	want, ok := scheme.Scheme.AllKnownTypes()[gvk]
	if !ok {
		return fmt.Errorf("no Go type for %v", gvk)
	}
	if got := reflect.TypeOf(obj); got.Kind() != reflect.Pointer || got.Elem() != want {
		return fmt.Errorf("object type %T does not match %v (%v)", obj, gvk, want)
	}
	return nil
}

// withoutEqualFields returns shallow copies of old and newObj in which
// every field that is deeply equal in both is reset to its zero value in
// both: top-level fields (spec, status, data, ...), the fields of a
// top-level struct that differs (status.phase when only the conditions
// changed) and the metadata fields but managedFields, which are read, and
// name and namespace. The comparison that finds what an update changed
// then skips those subtrees, which cannot differ, and reports exactly what
// it reports on the whole objects; the managed-field sets do not depend on
// the values otherwise. ok is false when the objects are not pointers to
// structs of one type.
func withoutEqualFields(old, newObj runtime.Object) (runtime.Object, runtime.Object, bool) {
	ov, nv := reflect.ValueOf(old), reflect.ValueOf(newObj)
	if ov.Kind() != reflect.Pointer || ov.Type() != nv.Type() || ov.IsNil() || nv.IsNil() || ov.Elem().Kind() != reflect.Struct {
		return old, newObj, false
	}
	t := ov.Elem().Type()
	oc, nc := reflect.New(t), reflect.New(t)
	oc.Elem().Set(ov.Elem())
	nc.Elem().Set(nv.Elem())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		of, nf := oc.Elem().Field(i), nc.Elem().Field(i)
		switch {
		case f.Anonymous && f.Type == objectMetaType:
			pruneEqualFields(of, nf, keptMetaFields)
		case f.Anonymous:
			// TypeMeta: the kind is read.
		case reflect.DeepEqual(of.Addr().Interface(), nf.Addr().Interface()):
			of.SetZero()
			nf.SetZero()
		case f.Type.Kind() == reflect.Struct:
			pruneEqualFields(of, nf, nil)
		}
	}
	oo, ok1 := oc.Interface().(runtime.Object)
	no, ok2 := nc.Interface().(runtime.Object)
	if !ok1 || !ok2 {
		return old, newObj, false
	}
	return oo, no, true
}

var objectMetaType = reflect.TypeOf(metav1.ObjectMeta{})

// keptMetaFields are the metadata fields never reset: the field manager
// reads managedFields, the uid (an existing object without entries is not
// tracked), and name and namespace name the object in errors.
var keptMetaFields = map[string]bool{"ManagedFields": true, "UID": true, "Name": true, "Namespace": true}

// pruneEqualFields resets, in the addressable structs o and n of one
// type, every exported field equal in both except those named in keep.
// The structs are fields of the shallow copies: a field is reset by
// assignment, never through a pointer shared with the caller's objects.
func pruneEqualFields(o, n reflect.Value, keep map[string]bool) {
	t := o.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() || keep[f.Name] {
			continue
		}
		of, nf := o.Field(i), n.Field(i)
		if reflect.DeepEqual(of.Addr().Interface(), nf.Addr().Interface()) {
			of.SetZero()
			nf.SetZero()
		}
	}
}

// sameVersion tells whether every managedFields entry of the objects is at
// version (a client may write entries of other versions). nil objects
// (no live object on create) have none.
func sameVersion(version string, objs ...runtime.Object) bool {
	for _, obj := range objs {
		if obj == nil {
			continue
		}
		acc, err := meta.Accessor(obj)
		if err != nil {
			return false
		}
		for _, e := range acc.GetManagedFields() {
			if e.APIVersion != version {
				return false
			}
		}
	}
	return true
}
