package apiserver

import (
	"mime"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/batchlet/batchlet/internal/apiserver/patch"
)

// handlePatch serves PATCH on an object or its /status.
func (s *server) handlePatch(w http.ResponseWriter, r *http.Request, rq *request, mode updateMode) {
	pt, err := patchType(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	fv, err := fieldValidationMode(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	dryRun, err := parseDryRun(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	manager, err := requestManager(r, "PatchOptions")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if pt == types.ApplyPatchType {
		s.handleApply(w, r, rq, mode, body, fv, dryRun)
		return
	}
	jsonInfo, _ := s.serializerFor(mediaJSON)
	var warnings []string
	general := func(current runtime.Object) (runtime.Object, error) {
		currentJSON, err := s.encode(jsonInfo, current)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		patched, check, err := patch.ApplyUnchecked(pt, currentJSON, body, rq.res.New())
		if err != nil {
			return nil, err
		}
		// The patch package's own check of the result is a second decoding;
		// it only runs to name the error when this one fails.
		obj, warns, err := s.decodeObject(jsonInfo, patched, rq.res, fv)
		if err != nil {
			if cerr := check(); cerr != nil {
				return nil, cerr
			}
			return nil, err
		}
		warnings = warns
		if err := checkURLIdentity(rq, obj); err != nil {
			return nil, err
		}
		return obj, nil
	}
	next := general
	if s.typedPatchFastPath(rq, mode, manager) {
		if fp, ok := parseFinalizerPatch(pt, body); ok {
			next = func(current runtime.Object) (runtime.Object, error) {
				if obj, ok, err := s.patchFinalizers(rq, current, fp); ok {
					return obj, err
				}
				return general(current)
			}
		}
	}
	// A body has at most one of the two shapes (only metadata, only status).
	if s.conditionFastPath(rq, mode, manager) {
		if cp, ok := parseConditionPatch(pt, body); ok {
			next = func(current runtime.Object) (runtime.Object, error) {
				if obj, ok, err := s.patchConditions(rq, current, cp); ok {
					return obj, err
				}
				return general(current)
			}
		}
	}
	out, err := s.update(r.Context(), rq, mode, updateOptions{dryRun: dryRun, manager: manager}, next)
	for _, msg := range warnings {
		addWarning(w, msg)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, rq, http.StatusOK, out)
}

// typedPatchFastPath says whether a patch of rq may be applied to the
// typed object, skipping the JSON round trip (finalizers, see
// finalizerpatch.go; pod conditions, conditionpatch.go): the kind must
// round-trip exactly
// and the write must go through the field manager, which normalizes
// managedFields on both paths.
func (s *server) typedPatchFastPath(rq *request, mode updateMode, manager string) bool {
	recorded := (mode == updateMain || mode == updateStatus) && rq.res.trackFields && manager != ""
	return recorded && rq.res.copyPatchable && !s.generalPatchesOnly
}

// patchType reads the patch type from Content-Type; others are 415.
func patchType(r *http.Request) (types.PatchType, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil {
		switch pt := types.PatchType(mt); pt {
		case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, types.ApplyPatchType:
			return pt, nil
		}
	}
	return "", unsupportedMediaType()
}
