package apiserver

import (
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/batchlet/batchlet/internal/apiserver/patch"
)

// applyAttempts bounds the create/update races of one apply.
const applyAttempts = 3

// handleApply serves server-side apply (application/apply-patch+yaml);
// a missing object is created (201).
func (s *server) handleApply(w http.ResponseWriter, r *http.Request, rq *request, mode updateMode, body []byte, fv fieldValidation, dryRun bool) {
	q := r.URL.Query()
	manager := q.Get("fieldManager")
	if manager == "" {
		s.writeError(w, r, apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("PatchOptions").GroupKind(), "",
			field.ErrorList{field.Required(field.NewPath("fieldManager"), "is required for apply patch")}))
		return
	}
	force := parseBool(q.Get("force"))
	gvk := rq.res.GroupVersionKind()
	jsonInfo, _ := s.serializerFor(mediaJSON)
	var warnings []string
	apply := func(currentJSON []byte) (runtime.Object, error) {
		applied, err := patch.ServerSideApply(currentJSON, body, rq.res.New(), gvk, manager, force)
		if err != nil {
			return nil, err
		}
		obj, warns, err := s.decodeObject(jsonInfo, applied, rq.res, fv)
		if err != nil {
			return nil, err
		}
		warnings = warns
		return obj, checkURLIdentity(rq, obj)
	}
	ctx := r.Context()
	for attempt := 1; ; attempt++ {
		out, err := s.update(ctx, rq, mode, updateOptions{dryRun: dryRun}, func(current runtime.Object) (runtime.Object, error) {
			currentJSON, err := s.encode(jsonInfo, current)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			return apply(currentJSON)
		})
		code := http.StatusOK
		if apierrors.IsNotFound(err) && mode == updateMain {
			var obj runtime.Object
			if obj, err = apply(nil); err == nil {
				out, err = s.create(ctx, rq, obj, createOptions{dryRun: dryRun})
				code = http.StatusCreated
			}
			if apierrors.IsAlreadyExists(err) && attempt < applyAttempts {
				continue
			}
		}
		for _, msg := range warnings {
			addWarning(w, msg)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeObject(w, r, rq, code, out)
		return
	}
}
