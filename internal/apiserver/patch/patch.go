package patch

import (
	"errors"
	"fmt"
	"reflect"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kjson "sigs.k8s.io/json"
)

// maxJSONPatchOperations bounds the work one JSON patch may ask for; the
// value and its error message are kube-apiserver's.
const maxJSONPatchOperations = 10000

// maxCopyGrowth bounds how much a JSON patch's "copy" operations may grow
// a document: three times kube-apiserver's default request size limit.
const maxCopyGrowth = 3 * 3 * 1024 * 1024

func init() {
	if jsonpatch.AccumulatedCopySizeLimit == 0 {
		jsonpatch.AccumulatedCopySizeLimit = maxCopyGrowth
	}
}

// Apply applies a JSON, merge or strategic merge patch to currentJSON and
// returns the patched object as JSON. dataStruct is a value of the object's
// Go type (for example &batchv1.Job{}); strategic merge patch reads its
// merge keys and strategies from it, and every patch type uses it to check
// that the result still decodes. Apply-patches go to ServerSideApply.
func Apply(pt types.PatchType, currentJSON, patchBody []byte, dataStruct runtime.Object) ([]byte, error) {
	out, check, err := ApplyUnchecked(pt, currentJSON, patchBody, dataStruct)
	if err != nil {
		return nil, err
	}
	if err := check(); err != nil {
		return nil, err
	}
	return out, nil
}

// ApplyUnchecked is Apply without the final check that the result decodes
// into dataStruct's type, for callers that decode the result themselves:
// check gives the error Apply would have given (nil when the result
// decodes). A result check rejects fails any decoding into the type, so a
// caller whose own decoding fails calls check first to report what Apply
// reports, and skips the second decoding when its own succeeds.
func ApplyUnchecked(pt types.PatchType, currentJSON, patchBody []byte, dataStruct runtime.Object) (out []byte, check func() error, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, check, err = nil, nil, recovered(p)
		}
	}()
	switch pt {
	case types.JSONPatchType:
		out, err = applyJSONPatch(currentJSON, patchBody)
	case types.MergePatchType:
		out, err = applyMergePatch(currentJSON, patchBody)
	case types.StrategicMergePatchType:
		var patchMap map[string]any
		out, patchMap, err = applyStrategicPatch(currentJSON, patchBody, dataStruct)
		if err != nil {
			return nil, nil, err
		}
		return out, func() error {
			if err := checkDecodes(out, dataStruct); err != nil {
				return invalidPatchResult(fmt.Sprintf("%+v", patchMap), err)
			}
			return nil
		}, nil
	default:
		return nil, nil, unsupportedPatchType()
	}
	if err != nil {
		return nil, nil, err
	}
	return out, func() error {
		if err := checkDecodes(out, dataStruct); err != nil {
			return invalidPatchResult(string(out), err)
		}
		return nil
	}, nil
}

func applyJSONPatch(currentJSON, patchBody []byte) ([]byte, error) {
	ops, err := jsonpatch.DecodePatch(patchBody)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if len(ops) > maxJSONPatchOperations {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf(
			"The allowed maximum operations in a JSON patch is %d, got %d", maxJSONPatchOperations, len(ops)))
	}
	out, err := ops.Apply(currentJSON)
	if err != nil {
		return nil, unprocessable(err.Error())
	}
	return out, nil
}

func applyMergePatch(currentJSON, patchBody []byte) ([]byte, error) {
	out, err := jsonpatch.MergePatch(currentJSON, patchBody)
	switch {
	case errors.Is(err, jsonpatch.ErrBadJSONPatch):
		return nil, apierrors.NewBadRequest(err.Error())
	case err != nil:
		return nil, unknownError(err)
	}
	return out, nil
}

// checkDecodes reports whether data still decodes into a fresh value of
// dataStruct's type, as kube-apiserver decodes every patch result.
func checkDecodes(data []byte, dataStruct runtime.Object) error {
	obj := newLike(dataStruct)
	if obj == nil {
		var m map[string]any
		return kjson.UnmarshalCaseSensitivePreserveInts(data, &m)
	}
	return kjson.UnmarshalCaseSensitivePreserveInts(data, obj)
}

// newLike returns a new zero value of obj's pointed-to type, or nil when
// obj is nil or not a pointer.
func newLike(obj runtime.Object) any {
	if obj == nil {
		return nil
	}
	t := reflect.TypeOf(obj)
	if t.Kind() != reflect.Pointer {
		return nil
	}
	return reflect.New(t.Elem()).Interface()
}
