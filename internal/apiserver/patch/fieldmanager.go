package patch

import (
	"encoding/json"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/kubernetes/scheme"
	kjson "sigs.k8s.io/json"

	"github.com/batchlet/batchlet/internal/applyschema"
)

// typeConverter knows the structured-merge-diff schema of every built-in
// Kubernetes type (list keys, atomic maps, ...), so server-side apply merges
// containers by name and env by name exactly as kube-apiserver does.
// It is built on first use rather than at program start, which every
// process of the binary would pay for.
var typeConverter = sync.OnceValue(func() managedfields.TypeConverter {
	return applyschema.TypeConverter(scheme.Scheme)
})

var fieldManagers sync.Map // managerKey -> *managedfields.FieldManager

// managerKey names a cached field manager: one per kind, subresource and
// use.
type managerKey struct {
	gvk         schema.GroupVersionKind
	subresource string
	use         managerUse
}

// managerUse says which objects a field manager is given.
type managerUse int

const (
	useApply       managerUse = iota // free-form apply configurations
	useUpdate                        // typed objects of the kind
	useSameVersion                   // typed objects whose managers are all at the kind's version
)

// fieldManagerFor returns the (cached) field manager of one kind's main
// resource.
func fieldManagerFor(gvk schema.GroupVersionKind) (*managedfields.FieldManager, error) {
	return subresourceFieldManager(gvk, "")
}

// subresourceFieldManager returns the (cached) field manager of one kind
// and subresource ("" for the main resource). The kind's own version is
// the hub: objects are stored in the version they are served in.
func subresourceFieldManager(gvk schema.GroupVersionKind, subresource string) (*managedfields.FieldManager, error) {
	return cachedFieldManager(managerKey{gvk: gvk, subresource: subresource})
}

// updateFieldManager returns the (cached) field manager that records
// Update operations on typed objects of one kind and subresource; use is
// useUpdate or useSameVersion.
func updateFieldManager(gvk schema.GroupVersionKind, subresource string, use managerUse) (*managedfields.FieldManager, error) {
	return cachedFieldManager(managerKey{gvk: gvk, subresource: subresource, use: use})
}

func cachedFieldManager(key managerKey) (*managedfields.FieldManager, error) {
	if fm, ok := fieldManagers.Load(key); ok {
		return fm.(*managedfields.FieldManager), nil
	}
	gvk, subresource := key.gvk, key.subresource
	if !scheme.Scheme.Recognizes(gvk) {
		return nil, fmt.Errorf("no schema for %v", gvk)
	}
	var converter managedfields.TypeConverter
	switch key.use {
	case useUpdate:
		converter = &updateConverter{base: typeConverter()}
	case useSameVersion:
		converter = &updateConverter{base: typeConverter(), sameVersionOf: &gvk}
	default:
		converter = typeConverter()
	}
	convertor := runtime.UnsafeObjectConvertor(scheme.Scheme)
	fm, err := managedfields.NewDefaultFieldManager(converter, convertor, scheme.Scheme, scheme.Scheme,
		gvk, gvk.GroupVersion(), subresource, nil)
	if err != nil {
		return nil, fmt.Errorf("field manager for %v: %w", gvk, err)
	}
	actual, _ := fieldManagers.LoadOrStore(key, fm)
	return actual.(*managedfields.FieldManager), nil
}

// decodeTyped decodes JSON into a new typed object of gvk; nil or empty data
// gives the empty object that stands for "does not exist yet".
func decodeTyped(data []byte, gvk schema.GroupVersionKind) (runtime.Object, error) {
	obj, err := scheme.Scheme.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("new %v: %w", gvk, err)
	}
	if len(data) > 0 {
		if err := kjson.UnmarshalCaseSensitivePreserveInts(data, obj); err != nil {
			return nil, fmt.Errorf("decode %v: %w", gvk, err)
		}
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, nil
}

// encodeTyped encodes a field manager result as JSON of gvk.
func encodeTyped(obj runtime.Object, gvk schema.GroupVersionKind) ([]byte, error) {
	if _, isUnstructured := obj.(runtime.Unstructured); isUnstructured {
		typed, err := scheme.Scheme.New(gvk)
		if err != nil {
			return nil, fmt.Errorf("new %v: %w", gvk, err)
		}
		if err := scheme.Scheme.Convert(obj, typed, nil); err != nil {
			return nil, fmt.Errorf("convert result to %v: %w", gvk, err)
		}
		obj = typed
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return json.Marshal(obj)
}
