package apiserver

import (
	"context"
	"errors"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/batchlet/batchlet/internal/registry"
	"github.com/batchlet/batchlet/internal/storage"
)

// updateMode says which part of an object an update may change.
type updateMode int

const (
	updateMain     updateMode = iota // the resource itself: everything but status
	updateStatus                     // /status
	updateFinalize                   // namespaces' /finalize: spec.finalizers only
)

// handleUpdate serves PUT on an object, its /status or /finalize.
func (s *server) handleUpdate(w http.ResponseWriter, r *http.Request, rq *request, mode updateMode) {
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
	manager, err := requestManager(r, "UpdateOptions")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, err := s.decodeRequest(w, r, rq.res, fv)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkURLIdentity(rq, obj); err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.update(r.Context(), rq, mode, updateOptions{dryRun: dryRun, manager: manager}, func(runtime.Object) (runtime.Object, error) {
		return obj.DeepCopyObject(), nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, rq, http.StatusOK, out)
}

// checkURLIdentity rejects a body naming another object than the URL.
func checkURLIdentity(rq *request, obj runtime.Object) error {
	acc, err := accessor(obj)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if acc.GetName() != rq.name {
		return badRequestf("the name of the object (%s) does not match the name on the URL (%s)", acc.GetName(), rq.name)
	}
	if rq.res.Namespaced {
		switch ns := acc.GetNamespace(); {
		case ns == "":
			acc.SetNamespace(rq.namespace)
		case ns != rq.namespace:
			return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
	}
	return nil
}

// updateOptions tune one update.
type updateOptions struct {
	dryRun bool
	// manager records managedFields of main-resource writes; empty when
	// the caller (server-side apply) has recorded them already.
	manager string
}

// newObjectFunc computes the requested object from the current one, which
// it must not modify (setting its kind is allowed) nor return: the store
// copied it for this attempt, and the update goes on to compare with it.
type newObjectFunc func(current runtime.Object) (runtime.Object, error)

// update applies an update through the kind's rules with compare-and-swap
// retries; an object left being deleted with nothing holding it is
// removed afterwards.
func (s *server) update(ctx context.Context, rq *request, mode updateMode, opts updateOptions, next newObjectFunc) (runtime.Object, error) {
	try := func(current runtime.Object) (runtime.Object, error) {
		return s.prepareUpdate(ctx, rq, mode, opts, current, next)
	}
	if opts.dryRun {
		current, err := s.store.Get(ctx, rq.key())
		if err != nil {
			return nil, storageError(err, rq.res.gr, rq.name)
		}
		return try(current)
	}
	out, err := s.guaranteedUpdate(ctx, rq, nil, try)
	if err != nil {
		return nil, storageError(err, rq.res.gr, rq.name)
	}
	if rq.res.readyToRemove(out) {
		return s.removeFinalized(ctx, rq, out)
	}
	return out, nil
}

// guaranteedUpdate runs try on rq's object, starting, as upstream's
// cacher does, from the value the resource's watch cache holds when it
// has one: that spares reading and decoding the key. The components
// write what they saw through the cache, so it is nearly always current;
// a stale value costs a failed compare-and-swap and a retry.
func (s *server) guaranteedUpdate(ctx context.Context, rq *request, pre *storage.Preconditions, try storage.UpdateFunc) (runtime.Object, error) {
	key := rq.key()
	if cu, ok := s.store.(storage.CachedUpdater); ok {
		if cache := s.watchCacheOf(rq.res); cache != nil {
			if cached, ok := cache.current(key); ok {
				return cu.GuaranteedUpdateFrom(ctx, key, cached, pre, try)
			}
		}
	}
	return s.store.GuaranteedUpdate(ctx, key, pre, try)
}

// prepareUpdate is one attempt of an update against current.
func (s *server) prepareUpdate(ctx context.Context, rq *request, mode updateMode, opts updateOptions, current runtime.Object, next newObjectFunc) (runtime.Object, error) {
	res := rq.res
	obj, err := next(current)
	if err != nil {
		return nil, err
	}
	acc, err := accessor(obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	old, err := accessor(current)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if rv := acc.GetResourceVersion(); rv != "" && rv != old.GetResourceVersion() {
		return nil, apierrors.NewConflict(res.gr, rq.name, errors.New(optimisticLockMsg))
	}
	acc.SetResourceVersion(old.GetResourceVersion())
	if mode == updateFinalize {
		return finalizeNamespace(current, obj)
	}
	res.Strategy.Default(obj)
	keepUpdateMeta(acc, old)
	var errs field.ErrorList
	switch mode {
	case updateStatus:
		res.Status.PrepareForStatusUpdate(ctx, obj, current)
		errs = append(res.validateUpdateMeta(acc, old), res.Status.ValidateStatusUpdate(ctx, obj, current)...)
	default:
		res.Strategy.PrepareForUpdate(ctx, obj, current)
		errs = append(res.validateUpdateMeta(acc, old), res.Strategy.ValidateUpdate(ctx, obj, current)...)
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(res.gk, rq.name, errs)
	}
	// Recorded after preparation, so what the strategy kept from current
	// (status on the main resource, spec on /status: the fields upstream
	// resets per subresource) is never attributed to the manager.
	switch mode {
	case updateMain:
		obj = s.recordManagedFields(res, current, obj, opts.manager, "")
	case updateStatus:
		obj = s.recordManagedFields(res, current, obj, opts.manager, "status")
	}
	// Admission takes or frees resources (cluster IPs) a dry run must not touch.
	if adm, ok := res.Strategy.(registry.Admitter); ok && mode == updateMain && !opts.dryRun {
		if err := adm.Admit(ctx, obj, current); err != nil {
			return nil, err
		}
	}
	return obj, nil
}

// finalizeNamespace takes only spec.finalizers from the request.
func finalizeNamespace(current, requested runtime.Object) (runtime.Object, error) {
	cur, ok1 := current.(*corev1.Namespace)
	req, ok2 := requested.(*corev1.Namespace)
	if !ok1 || !ok2 {
		return nil, apierrors.NewBadRequest("finalize applies to namespaces only")
	}
	out := cur.DeepCopy()
	out.Spec.Finalizers = req.Spec.Finalizers
	return out, nil
}

// removeFinalized deletes an object whose last finalizer (or grace) is
// gone, returning the object as it was last stored.
func (s *server) removeFinalized(ctx context.Context, rq *request, obj runtime.Object) (runtime.Object, error) {
	acc, err := accessor(obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	rv := acc.GetResourceVersion()
	deleted, err := s.store.Delete(ctx, rq.key(), &storage.Preconditions{ResourceVersion: &rv}, nil)
	switch {
	case err == nil:
		s.afterDelete(ctx, rq.res, deleted)
	case storage.IsNotFound(err) || storage.IsConflict(err):
		// someone else changed or removed it; they run the release
	default:
		return nil, storageError(err, rq.res.gr, rq.name)
	}
	return obj, nil
}
