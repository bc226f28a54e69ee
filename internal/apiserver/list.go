package apiserver

import (
	"fmt"
	"log"
	"net/http"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/batchlet/batchlet/internal/storage"
)

// handleList serves GET on a collection.
func (s *server) handleList(w http.ResponseWriter, r *http.Request, rq *request) {
	p, err := parseListParams(r.URL.Query(), rq.res)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// An informer watches from the revision of its list: with the cache
	// running before the list is read, that watch is served from the
	// cache rather than by a storage watch of its own.
	if cache := s.watchCacheOf(rq.res); cache != nil {
		if err := cache.ensureRunning(r.Context()); err != nil {
			log.Printf("apiserver: %v", err)
		}
	}
	list, err := s.list(r, rq, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, rq, http.StatusOK, list)
}

// list reads one page of the collection as the kind's typed list.
func (s *server) list(r *http.Request, rq *request, p *listParams) (runtime.Object, error) {
	m := newMatcher(rq.res, p)
	opts := storage.ListOptions{
		ResourceVersion:      p.resourceVersion,
		ResourceVersionMatch: p.resourceVersionMatch,
		Limit:                p.limit,
		Continue:             p.continueToken,
	}
	if !m.everything() {
		opts.Predicate = m.matches
	}
	result, err := s.store.List(r.Context(), rq.prefix(), opts)
	if err != nil {
		return nil, storageError(err, rq.res.gr, "")
	}
	return s.newList(rq.res, result)
}

// newList builds the kind's list object from a storage page.
func (s *server) newList(res *resource, result *storage.ListResult) (runtime.Object, error) {
	for _, item := range result.Items {
		// items of a typed list carry no kind of their own
		item.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	}
	list := res.NewList()
	if err := meta.SetList(list, result.Items); err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("building %s: %w", res.ListKind, err))
	}
	lm, err := meta.ListAccessor(list)
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("list metadata of %s: %w", res.ListKind, err))
	}
	lm.SetResourceVersion(strconv.FormatInt(result.ResourceVersion, 10))
	lm.SetContinue(result.Continue)
	lm.SetRemainingItemCount(result.RemainingItemCount)
	return list, nil
}
