package patch

import (
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/mergepatch"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	kjson "sigs.k8s.io/json"
)

// applyStrategicPatch returns the patched JSON and the decoded patch,
// which names the patch in the error of a result that does not decode.
func applyStrategicPatch(currentJSON, patchBody []byte, dataStruct runtime.Object) ([]byte, map[string]any, error) {
	if newLike(dataStruct) == nil {
		return nil, nil, apierrors.NewInternalError(errors.New("strategic merge patch needs the object's type"))
	}
	original := map[string]any{}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(currentJSON, &original); err != nil {
		return nil, nil, apierrors.NewInternalError(fmt.Errorf("decode current object: %w", err))
	}
	patchMap := map[string]any{}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(patchBody, &patchMap); err != nil {
		return nil, nil, apierrors.NewBadRequest(err.Error())
	}
	patched, err := strategicpatch.StrategicMergeMapPatch(original, patchMap, dataStruct)
	if err != nil {
		return nil, nil, strategicError(err)
	}
	out, err := json.Marshal(patched)
	if err != nil {
		return nil, nil, invalidPatchResult(fmt.Sprintf("%+v", patchMap), err)
	}
	return out, patchMap, nil
}

// strategicError gives a strategic merge patch failure the status code
// kube-apiserver gives it: malformed directives are the client's fault
// (400), contradictions with the object are unprocessable (422).
func strategicError(err error) error {
	for _, bad := range []error{
		mergepatch.ErrBadJSONDoc,
		mergepatch.ErrBadPatchFormatForPrimitiveList,
		mergepatch.ErrBadPatchFormatForRetainKeys,
		mergepatch.ErrBadPatchFormatForSetElementOrderList,
		mergepatch.ErrUnsupportedStrategicMergePatchFormat,
	} {
		if errors.Is(err, bad) {
			return apierrors.NewBadRequest(err.Error())
		}
	}
	if errors.Is(err, mergepatch.ErrNoListOfLists) || errors.Is(err, mergepatch.ErrPatchContentNotMatchRetainKeys) {
		return unprocessable(err.Error())
	}
	return unknownError(err)
}
