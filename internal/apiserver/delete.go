package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/batchlet/batchlet/internal/registry"
	"github.com/batchlet/batchlet/internal/storage"
)

// Finalizers the garbage collector honours.
const (
	finalizerOrphan     = metav1.FinalizerOrphanDependents
	finalizerForeground = metav1.FinalizerDeleteDependents
)

// handleDelete serves DELETE on one object.
func (s *server) handleDelete(w http.ResponseWriter, r *http.Request, rq *request) {
	opts, err := s.deleteOptions(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, removed, err := s.deleteObject(r.Context(), rq, opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.negotiateOutput(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !removed {
		s.writeObject(w, r, rq, http.StatusOK, obj)
		return
	}
	details := &metav1.StatusDetails{Name: rq.name, Group: rq.res.GroupVersion.Group, Kind: rq.res.Plural}
	if acc, err := accessor(obj); err == nil {
		details.UID = acc.GetUID()
	}
	s.writeRaw(w, r, out, http.StatusOK, successStatus(http.StatusOK, details))
}

// deleteOptions reads DeleteOptions from the body or, without one, from
// the query.
func (s *server) deleteOptions(w http.ResponseWriter, r *http.Request) (*metav1.DeleteOptions, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	opts := &metav1.DeleteOptions{}
	if len(body) > 0 {
		if err := s.decodeDeleteOptions(r, body, opts); err != nil {
			return nil, err
		}
	} else if err := deleteOptionsFromQuery(r, opts); err != nil {
		return nil, err
	}
	if errs := validateDeleteOptions(opts); len(errs) > 0 {
		return nil, apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: "DeleteOptions"}, "", errs)
	}
	return opts, nil
}

func (s *server) decodeDeleteOptions(r *http.Request, body []byte, opts *metav1.DeleteOptions) error {
	info, err := s.negotiateInput(r)
	if err != nil {
		return err
	}
	if info.MediaType == mediaProtobuf {
		def := schema.GroupVersionKind{Version: "v1", Kind: "DeleteOptions"}
		obj, _, err := info.Serializer.Decode(body, &def, opts)
		if err != nil {
			return badRequestf("decoding DeleteOptions: %v", err)
		}
		if obj != opts {
			return apierrors.NewBadRequest("decoded object cannot be converted to DeleteOptions")
		}
		return nil
	}
	if err := yaml.Unmarshal(body, opts); err != nil {
		return badRequestf("decoding DeleteOptions: %v", err)
	}
	return nil
}

func deleteOptionsFromQuery(r *http.Request, opts *metav1.DeleteOptions) error {
	q := r.URL.Query()
	if v := q.Get("gracePeriodSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return badRequestf("invalid gracePeriodSeconds %q", v)
		}
		opts.GracePeriodSeconds = &n
	}
	if v := q.Get("propagationPolicy"); v != "" {
		p := metav1.DeletionPropagation(v)
		opts.PropagationPolicy = &p
	}
	if v := q.Get("orphanDependents"); v != "" {
		b := parseBool(v)
		opts.OrphanDependents = &b
	}
	opts.DryRun = q["dryRun"]
	return nil
}

func validateDeleteOptions(opts *metav1.DeleteOptions) field.ErrorList {
	var errs field.ErrorList
	if opts.OrphanDependents != nil && opts.PropagationPolicy != nil {
		errs = append(errs, field.Invalid(field.NewPath("propagationPolicy"), *opts.PropagationPolicy, "orphanDependents and deletionPropagation cannot be both set"))
	}
	if p := opts.PropagationPolicy; p != nil {
		switch *p {
		case metav1.DeletePropagationOrphan, metav1.DeletePropagationBackground, metav1.DeletePropagationForeground:
		default:
			errs = append(errs, field.NotSupported(field.NewPath("propagationPolicy"), *p, []string{
				string(metav1.DeletePropagationForeground), string(metav1.DeletePropagationBackground), string(metav1.DeletePropagationOrphan), "nil"}))
		}
	}
	for i, v := range opts.DryRun {
		if v != metav1.DryRunAll {
			errs = append(errs, field.NotSupported(field.NewPath("dryRun").Index(i), v, []string{metav1.DryRunAll}))
		}
	}
	return errs
}

// propagation returns the policy of a delete and whether the client chose it.
func propagation(res *resource, opts *metav1.DeleteOptions) (metav1.DeletionPropagation, bool) {
	switch {
	case opts.PropagationPolicy != nil:
		return *opts.PropagationPolicy, true
	case opts.OrphanDependents != nil && *opts.OrphanDependents:
		return metav1.DeletePropagationOrphan, true
	case opts.OrphanDependents != nil:
		return metav1.DeletePropagationBackground, true
	}
	if gc, ok := res.Strategy.(registry.GarbageCollectionPolicy); ok {
		return gc.DefaultGarbageCollectionPolicy(), false
	}
	return metav1.DeletePropagationBackground, false
}

// gcFinalizers applies a propagation policy to an object's finalizers.
func gcFinalizers(existing []string, policy metav1.DeletionPropagation, explicit bool) []string {
	var add, drop []string
	switch policy {
	case metav1.DeletePropagationOrphan:
		add, drop = []string{finalizerOrphan}, []string{finalizerForeground}
	case metav1.DeletePropagationForeground:
		add, drop = []string{finalizerForeground}, []string{finalizerOrphan}
	default:
		if explicit {
			drop = []string{finalizerOrphan, finalizerForeground}
		}
	}
	out := make([]string, 0, len(existing)+1)
	for _, f := range existing {
		if !contains(drop, f) {
			out = append(out, f)
		}
	}
	for _, f := range add {
		if !contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// checkPreconditions enforces DeleteOptions preconditions on current.
func checkPreconditions(rq *request, opts *metav1.DeleteOptions, current runtime.Object) error {
	pre := opts.Preconditions
	if pre == nil {
		return nil
	}
	acc, err := accessor(current)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if pre.UID != nil && *pre.UID != acc.GetUID() {
		return apierrors.NewConflict(rq.res.gr, rq.name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *pre.UID, acc.GetUID()))
	}
	if pre.ResourceVersion != nil && *pre.ResourceVersion != acc.GetResourceVersion() {
		return apierrors.NewConflict(rq.res.gr, rq.name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *pre.ResourceVersion, acc.GetResourceVersion()))
	}
	return nil
}

// deleteObject deletes rq's object. It returns the object and whether it
// is gone; an object held by finalizers or a grace period stays, marked
// with a deletionTimestamp.
func (s *server) deleteObject(ctx context.Context, rq *request, opts *metav1.DeleteOptions) (runtime.Object, bool, error) {
	res := rq.res
	dryRun := len(opts.DryRun) > 0
	current, err := s.store.Get(ctx, rq.key())
	if err != nil {
		return nil, false, storageError(err, res.gr, rq.name)
	}
	if err := checkPreconditions(rq, opts, current); err != nil {
		return nil, false, err
	}
	policy, explicit := propagation(res, opts)
	var grace int64
	graceful := false
	if gd, ok := res.Strategy.(registry.GracefulDeleter); ok {
		grace, graceful = gd.CheckGracefulDelete(ctx, current, opts.GracePeriodSeconds)
	}
	mark := func(obj runtime.Object) (runtime.Object, error) {
		if err := checkPreconditions(rq, opts, obj); err != nil {
			return nil, err
		}
		markDeleted(obj, s.cfg.Clock.Now(), policy, explicit, graceful, grace)
		return obj, nil
	}
	probe, err := mark(current.DeepCopyObject())
	if err != nil {
		return nil, false, err
	}
	if res.readyToRemove(probe) {
		if dryRun {
			return current, true, nil
		}
		acc, err := accessor(current)
		if err != nil {
			return nil, false, apierrors.NewInternalError(err)
		}
		uid := acc.GetUID()
		pre := &storage.Preconditions{UID: &uid}
		if p := opts.Preconditions; p != nil && p.ResourceVersion != nil {
			pre.ResourceVersion = p.ResourceVersion
		}
		deleted, err := s.store.Delete(ctx, rq.key(), pre, func(cur runtime.Object) error {
			probe, err := mark(cur.DeepCopyObject())
			if err != nil {
				return err
			}
			if !res.readyToRemove(probe) {
				return storage.NewError(storage.ErrCodeConflict, rq.key(), optimisticLockMsg)
			}
			return nil
		})
		if err != nil {
			return nil, false, storageError(err, res.gr, rq.name)
		}
		s.afterDelete(ctx, res, deleted)
		return deleted, true, nil
	}
	if dryRun {
		return probe, false, nil
	}
	out, err := s.store.GuaranteedUpdate(ctx, rq.key(), nil, mark)
	if err != nil {
		return nil, false, storageError(err, res.gr, rq.name)
	}
	return out, false, nil
}

// markDeleted sets deletionTimestamp, the grace period and the garbage
// collection finalizers on obj.
func markDeleted(obj runtime.Object, now time.Time, policy metav1.DeletionPropagation, explicit, graceful bool, grace int64) {
	acc, err := accessor(obj)
	if err != nil {
		return
	}
	acc.SetFinalizers(gcFinalizers(acc.GetFinalizers(), policy, explicit))
	now = now.Truncate(time.Second)
	first := acc.GetDeletionTimestamp() == nil
	if !graceful {
		grace = 0
	}
	deadline := metav1.NewTime(now.Add(time.Duration(grace) * time.Second))
	if old := acc.GetDeletionGracePeriodSeconds(); first || old == nil || grace < *old {
		if first || deadline.Before(acc.GetDeletionTimestamp()) {
			acc.SetDeletionTimestamp(&deadline)
		}
		acc.SetDeletionGracePeriodSeconds(&grace)
	}
	if first && acc.GetGeneration() > 0 {
		acc.SetGeneration(acc.GetGeneration() + 1)
	}
	if ns, ok := obj.(*corev1.Namespace); ok {
		ns.Status.Phase = corev1.NamespaceTerminating
	}
}

// handleDeleteCollection deletes every object matching the selectors.
func (s *server) handleDeleteCollection(w http.ResponseWriter, r *http.Request, rq *request) {
	opts, err := s.deleteOptions(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := parseListParams(r.URL.Query(), rq.res)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p.limit, p.continueToken = 0, ""
	list, err := s.list(r, rq, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items, err := extractItems(list)
	if err != nil {
		s.writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	var done []runtime.Object
	for _, item := range items {
		acc, err := accessor(item)
		if err != nil {
			continue
		}
		one := *rq
		one.namespace, one.name = acc.GetNamespace(), acc.GetName()
		obj, _, err := s.deleteObject(r.Context(), &one, opts)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		done = append(done, obj)
	}
	out, err := s.newList(rq.res, &storage.ListResult{Items: done})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, rq, http.StatusOK, out)
}
