package apiserver

import (
	"net/http"

	"k8s.io/apimachinery/pkg/runtime"
)

// handleGet serves GET of one object (also its /status).
func (s *server) handleGet(w http.ResponseWriter, r *http.Request, rq *request) {
	obj, err := s.getObject(r, rq)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, rq, http.StatusOK, obj)
}

// getObject reads the named object of rq.
func (s *server) getObject(r *http.Request, rq *request) (runtime.Object, error) {
	obj, err := s.store.Get(r.Context(), rq.key())
	if err != nil {
		return nil, storageError(err, rq.res.gr, rq.name)
	}
	return obj, nil
}

// key is the storage key of the request's object.
func (rq *request) key() string {
	return StorageKey(rq.res.Resource, rq.namespace, rq.name)
}

// prefix is the storage prefix of the request's collection.
func (rq *request) prefix() string {
	return StoragePrefix(rq.res.Resource, rq.namespace)
}
