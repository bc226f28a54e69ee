package apiserver

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strings"

	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
)

// The general patch path turns the current object into JSON, patches the
// JSON and decodes it again, which is most of a patch's cost. Controllers
// drop a finalizer with a patch that touches nothing but
// metadata.finalizers, so for those patches the server edits a deep copy
// instead. That gives the same object as long as a JSON round trip of the
// current object changes nothing, which holds for objects as the store
// returns them (decoded from protobuf: times at second precision, micro
// times at microsecond precision, no empty non-nil lists or maps) when the
// kind passes jsonRoundTripIsCopy. managedFields are the exception: their
// raw JSON is compacted by the round trip, so the fast path also needs a
// field manager, which re-encodes every entry on both paths.

// finalizerPatch is a patch body that changes only metadata.finalizers.
type finalizerPatch struct {
	// set: a merge patch, whose list replaces the current one; otherwise a
	// strategic merge patch deleting every occurrence of the values.
	set    bool
	values []string
}

// Keys of the two patch forms, also a cheap filter before decoding.
const (
	deleteFinalizersKey = "$deleteFromPrimitiveList/finalizers"
	setFinalizersKey    = "finalizers"
)

// parseFinalizerPatch recognises {"metadata":{KEY:[strings]}} with KEY
// deleteFinalizersKey (strategic merge patch) or setFinalizersKey (merge
// patch), and nothing else: any other key, a null or a non-string item
// leaves the patch to the general path. The body is decoded as the
// general path decodes it, so duplicate keys and escapes read the same.
func parseFinalizerPatch(pt types.PatchType, body []byte) (finalizerPatch, bool) {
	var key string
	switch pt {
	case types.StrategicMergePatchType:
		key = deleteFinalizersKey
	case types.MergePatchType:
		key = setFinalizersKey
	default:
		return finalizerPatch{}, false
	}
	if !bytes.Contains(body, []byte(key)) {
		return finalizerPatch{}, false
	}
	var doc map[string]any
	if err := kjson.UnmarshalCaseSensitivePreserveInts(body, &doc); err != nil || len(doc) != 1 {
		return finalizerPatch{}, false
	}
	meta, ok := doc["metadata"].(map[string]any)
	if !ok || len(meta) != 1 {
		return finalizerPatch{}, false
	}
	list, ok := meta[key].([]any)
	if !ok {
		return finalizerPatch{}, false
	}
	values := make([]string, len(list))
	for i, v := range list {
		if values[i], ok = v.(string); !ok {
			return finalizerPatch{}, false
		}
	}
	return finalizerPatch{set: pt == types.MergePatchType, values: values}, true
}

// apply returns the finalizers after the patch, given the current ones
// (a copy it may reuse). nil and empty are told apart as the general
// path's decoding tells them apart: an absent list decodes to nil, a
// present one, even [], to a non-nil slice.
func (p finalizerPatch) apply(current []string) []string {
	if p.set {
		return slices.Clone(p.values)
	}
	if len(current) == 0 {
		// No list in the JSON: the directive has nothing to work on.
		return nil
	}
	return slices.DeleteFunc(current, func(f string) bool { return slices.Contains(p.values, f) })
}

// patchFinalizers is the fast path's newObjectFunc body: current's copy
// with the patch applied. ok is false when current is not what the
// general path expects to decode (another kind or Go type); the caller
// then takes the general path, which reports the problem.
func (s *server) patchFinalizers(rq *request, current runtime.Object, p finalizerPatch) (obj runtime.Object, ok bool, err error) {
	// The general path's encoding sets current's kind; later steps see it.
	if s.setKind(current) != nil {
		return nil, false, nil
	}
	if current.GetObjectKind().GroupVersionKind() != rq.res.GroupVersionKind() || reflect.TypeOf(current) != rq.res.goType {
		return nil, false, nil
	}
	obj = current.DeepCopyObject()
	acc, err := accessor(obj)
	if err != nil {
		return nil, false, nil
	}
	acc.SetFinalizers(p.apply(acc.GetFinalizers()))
	if err := checkURLIdentity(rq, obj); err != nil {
		return nil, true, err
	}
	return obj, true, nil
}

var (
	marshalerType       = reflect.TypeFor[json.Marshaler]()
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// roundTripTypes have their own JSON encoding and survive a round trip
// of a stored value unchanged: Time and MicroTime are stored at the
// precision their JSON carries, Quantity and IntOrString as the value
// their JSON carries. FieldsV1 (managedFields) holds raw JSON that the
// round trip compacts; see the field manager condition above.
var roundTripTypes = map[reflect.Type]bool{
	reflect.TypeFor[metav1.Time]():          true,
	reflect.TypeFor[metav1.MicroTime]():     true,
	reflect.TypeFor[apiresource.Quantity](): true,
	reflect.TypeFor[intstr.IntOrString]():   true,
	reflect.TypeFor[metav1.FieldsV1]():      true,
}

// jsonRoundTripIsCopy reports whether a stored value of type t comes back
// from a JSON round trip equal to its deep copy. It refuses what JSON may
// change or drop: fields JSON does not see (unexported, "-"), types with
// their own encoding other than roundTripTypes, interfaces (unstructured
// objects among them), floats, non-string map keys, and omitempty byte
// strings (stored empty, they come back nil).
func jsonRoundTripIsCopy(t reflect.Type) bool {
	return roundTripIsCopy(t, map[reflect.Type]bool{})
}

func roundTripIsCopy(t reflect.Type, seen map[reflect.Type]bool) bool {
	if roundTripTypes[t] || seen[t] {
		return true
	}
	seen[t] = true
	if t.Kind() != reflect.Pointer {
		pt := reflect.PointerTo(t)
		for _, it := range []reflect.Type{marshalerType, unmarshalerType, textMarshalerType, textUnmarshalerType} {
			if pt.Implements(it) {
				return false
			}
		}
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return roundTripIsCopy(t.Elem(), seen)
	case reflect.Map:
		return t.Key().Kind() == reflect.String && roundTripIsCopy(t.Key(), seen) && roundTripIsCopy(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if !f.IsExported() || tag == "-" {
				return false
			}
			_, opts, _ := strings.Cut(tag, ",")
			if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Uint8 && slices.Contains(strings.Split(opts, ","), "omitempty") {
				return false
			}
			if !roundTripIsCopy(f.Type, seen) {
				return false
			}
		}
		return true
	default:
		return false
	}
}
