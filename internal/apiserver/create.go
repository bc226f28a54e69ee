package apiserver

import (
	"context"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/batchlet/batchlet/internal/registry"
	"github.com/batchlet/batchlet/internal/storage"
)

// generateNameAttempts bounds retries when a generated name is taken.
const generateNameAttempts = 8

type gracefulDeleter = registry.GracefulDeleter

// handleCreate serves POST on a collection.
func (s *server) handleCreate(w http.ResponseWriter, r *http.Request, rq *request) {
	mode, err := fieldValidationMode(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	dryRun, err := parseDryRun(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, err := s.decodeRequest(w, r, rq.res, mode)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	created, err := s.create(r.Context(), rq, obj, dryRun)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, rq, http.StatusCreated, created)
}

// create runs a decoded object through defaulting, preparation,
// validation and admission, then stores it (unless dryRun).
func (s *server) create(ctx context.Context, rq *request, obj runtime.Object, dryRun bool) (runtime.Object, error) {
	res := rq.res
	acc, err := accessor(obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if res.Namespaced {
		switch ns := acc.GetNamespace(); {
		case ns == "":
			acc.SetNamespace(rq.namespace)
		case ns != rq.namespace:
			return nil, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
		if err := s.checkNamespaceOpen(ctx, res, acc.GetName(), rq.namespace); err != nil {
			return nil, err
		}
	} else {
		acc.SetNamespace("")
	}
	res.Strategy.Default(obj)
	fillCreateMeta(acc, s.cfg.Clock.Now())
	res.Strategy.PrepareForCreate(ctx, obj)
	generated := acc.GetName() == "" && acc.GetGenerateName() != ""
	if generated {
		acc.SetName(generateName(acc.GetGenerateName()))
	}
	errs := res.validateCreateMeta(acc)
	errs = append(errs, res.Strategy.Validate(ctx, obj)...)
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(res.gk, acc.GetName(), errs)
	}
	if adm, ok := res.Strategy.(registry.Admitter); ok {
		if err := adm.Admit(ctx, obj, nil); err != nil {
			return nil, err
		}
	}
	if dryRun {
		return obj, nil
	}
	for attempt := 1; ; attempt++ {
		key := StorageKey(res.Resource, acc.GetNamespace(), acc.GetName())
		out, err := s.store.Create(ctx, key, obj)
		if err == nil {
			return out, nil
		}
		if !generated || !storage.IsExists(err) || attempt >= generateNameAttempts {
			return nil, storageError(err, res.gr, acc.GetName())
		}
		acc.SetName(generateName(acc.GetGenerateName()))
	}
}

// parseDryRun reads dryRun: absent or All.
func parseDryRun(r *http.Request) (bool, error) {
	values := r.URL.Query()["dryRun"]
	for _, v := range values {
		if v != "All" {
			return false, badRequestf("dryRun: Unsupported value: %q: supported values: \"All\"", v)
		}
	}
	return len(values) > 0, nil
}
