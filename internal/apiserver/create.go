package apiserver

import (
	"context"
	"log"
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
	manager, err := requestManager(r, "CreateOptions")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, err := s.decodeRequest(w, r, rq.res, mode)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	created, err := s.create(r.Context(), rq, obj, createOptions{dryRun: dryRun, manager: manager})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, rq, http.StatusCreated, created)
}

// createOptions tune one create.
type createOptions struct {
	dryRun bool
	// manager records managedFields for the new object; empty when the
	// caller (server-side apply) has recorded them already.
	manager string
}

// create runs a decoded object through defaulting, name generation,
// preparation, validation and admission, then stores it (unless dryRun).
// A generated name that is taken is replaced and the whole preparation
// rerun on a fresh copy of obj.
func (s *server) create(ctx context.Context, rq *request, obj runtime.Object, opts createOptions) (runtime.Object, error) {
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
	generated := acc.GetName() == "" && acc.GetGenerateName() != ""
	for attempt := 1; ; attempt++ {
		// Only a generated name is ever retried; otherwise the request's
		// object is used up by the one attempt and needs no copy.
		fresh := obj
		if generated {
			fresh = obj.DeepCopyObject()
		}
		candidate, name, err := s.prepareCreate(ctx, res, fresh, opts)
		if err != nil {
			return nil, err
		}
		if opts.dryRun {
			return candidate, nil
		}
		out, err := s.store.Create(ctx, StorageKey(res.Resource, rq.namespace, name), candidate)
		if err == nil {
			return out, nil
		}
		// Admission may have taken something (a cluster IP) for this
		// candidate; give it back before retrying or failing.
		s.afterDelete(ctx, res, candidate)
		if !generated || !storage.IsExists(err) || attempt >= generateNameAttempts {
			return nil, storageError(err, res.gr, name)
		}
	}
}

// prepareCreate makes obj (a private copy) ready to store and returns it
// with its name: defaults, server-owned metadata, a generated name,
// the kind's preparation, validation, managedFields and, unless dryRun,
// admission.
func (s *server) prepareCreate(ctx context.Context, res *resource, obj runtime.Object, opts createOptions) (runtime.Object, string, error) {
	acc, err := accessor(obj)
	if err != nil {
		return nil, "", apierrors.NewInternalError(err)
	}
	res.Strategy.Default(obj)
	fillCreateMeta(acc, s.cfg.Clock.Now())
	// The name comes first: kinds copy it into labels when preparing.
	if acc.GetName() == "" && acc.GetGenerateName() != "" {
		acc.SetName(generateName(acc.GetGenerateName()))
	}
	// As upstream, the manager owns what it sent (and the defaults), not
	// what the kind's preparation adds.
	obj = s.recordManagedFields(res, nil, obj, opts.manager, "")
	if acc, err = accessor(obj); err != nil {
		return nil, "", apierrors.NewInternalError(err)
	}
	res.Strategy.PrepareForCreate(ctx, obj)
	errs := res.validateCreateMeta(acc)
	errs = append(errs, res.Strategy.Validate(ctx, obj)...)
	if len(errs) > 0 {
		return nil, "", apierrors.NewInvalid(res.gk, acc.GetName(), errs)
	}
	// Admission takes resources (cluster IPs) a dry run must not hold.
	if adm, ok := res.Strategy.(registry.Admitter); ok && !opts.dryRun {
		if err := adm.Admit(ctx, obj, nil); err != nil {
			return nil, "", err
		}
	}
	return obj, acc.GetName(), nil
}

// afterDelete lets the kind release what obj held once obj is gone (or
// was never stored). Failures are logged: the object is gone either way.
func (s *server) afterDelete(ctx context.Context, res *resource, obj runtime.Object) {
	ad, ok := res.Strategy.(registry.AfterDeleter)
	if !ok || obj == nil {
		return
	}
	// The release must happen even when the client has gone away.
	if err := ad.AfterDelete(context.WithoutCancel(ctx), obj); err != nil {
		log.Printf("apiserver: releasing resources of deleted %s: %v", res.gr, err)
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
