package apiserver

import (
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// request is one resource request, resolved against the registry.
type request struct {
	res         *resource
	namespace   string
	name        string
	subresource string
	// allNamespaces marks a list or watch across namespaces.
	allNamespaces bool
	legacyWatch   bool
}

// serveResource dispatches a resource path to its verb handler.
func (s *server) serveResource(w http.ResponseWriter, r *http.Request) {
	info, ok := parseResourcePath(r.URL.Path)
	if !ok {
		s.writeError(w, r, notFound())
		return
	}
	res := s.lookup(info.gv, info.resource)
	if res == nil {
		s.writeError(w, r, notFound())
		return
	}
	rq := &request{res: res, namespace: info.namespace, name: info.name, subresource: info.subresource, legacyWatch: info.legacyWatch}
	switch {
	case !res.Namespaced && info.namespace != "":
		s.writeError(w, r, notFound())
		return
	case res.Namespaced && info.namespace == "":
		if info.name != "" {
			s.writeError(w, r, notFound())
			return
		}
		rq.allNamespaces = true
	}
	if rq.legacyWatch {
		if r.Method != http.MethodGet || rq.subresource != "" {
			s.writeError(w, r, notFound())
			return
		}
		s.handleWatch(w, r, rq)
		return
	}
	if rq.subresource != "" {
		s.serveSubresource(w, r, rq)
		return
	}
	s.serveMain(w, r, rq)
}

// serveMain handles the resource itself and its collection.
func (s *server) serveMain(w http.ResponseWriter, r *http.Request, rq *request) {
	collection := rq.name == ""
	verb := ""
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case collection && isWatch(r):
			verb = "watch"
		case collection:
			verb = "list"
		default:
			verb = "get"
		}
	case http.MethodPost:
		if collection {
			verb = "create"
		}
	case http.MethodPut:
		if !collection {
			verb = "update"
		}
	case http.MethodPatch:
		if !collection {
			verb = "patch"
		}
	case http.MethodDelete:
		if collection {
			verb = "deletecollection"
		} else {
			verb = "delete"
		}
	}
	if verb == "" || (rq.allNamespaces && verb != "list" && verb != "watch" && verb != "deletecollection") {
		s.writeError(w, r, apierrors.NewMethodNotSupported(rq.res.gr, strings.ToLower(r.Method)))
		return
	}
	if rq.allNamespaces && verb == "deletecollection" {
		s.writeError(w, r, notFound())
		return
	}
	if !rq.res.verbs[verb] {
		s.writeError(w, r, apierrors.NewMethodNotSupported(rq.res.gr, verb))
		return
	}
	switch verb {
	case "get":
		s.handleGet(w, r, rq)
	case "list":
		s.handleList(w, r, rq)
	case "watch":
		s.handleWatch(w, r, rq)
	case "create":
		s.handleCreate(w, r, rq)
	case "update":
		s.handleUpdate(w, r, rq, updateMain)
	case "patch":
		s.handlePatch(w, r, rq, updateMain)
	case "delete":
		s.handleDelete(w, r, rq)
	case "deletecollection":
		s.handleDeleteCollection(w, r, rq)
	}
}

// serveSubresource handles /status, /finalize and the pod and node
// subresources.
func (s *server) serveSubresource(w http.ResponseWriter, r *http.Request, rq *request) {
	res := rq.res
	switch {
	case rq.subresource == "status" && res.Status != nil:
		s.serveStatus(w, r, rq)
		return
	case rq.subresource == "finalize" && isNamespaces(res):
		if r.Method != http.MethodPut {
			s.writeError(w, r, apierrors.NewMethodNotSupported(res.gr, strings.ToLower(r.Method)))
			return
		}
		s.handleUpdate(w, r, rq, updateFinalize)
		return
	case isPods(res):
		if h := s.podSubresource(rq.subresource, r.Method); h != nil {
			h(w, r, rq)
			return
		}
	}
	s.writeError(w, r, notFound())
}

// serveStatus handles GET, PUT and PATCH on /status.
func (s *server) serveStatus(w http.ResponseWriter, r *http.Request, rq *request) {
	switch r.Method {
	case http.MethodGet:
		s.handleGet(w, r, rq)
	case http.MethodPut:
		s.handleUpdate(w, r, rq, updateStatus)
	case http.MethodPatch:
		s.handlePatch(w, r, rq, updateStatus)
	default:
		s.writeError(w, r, apierrors.NewMethodNotSupported(rq.res.gr, strings.ToLower(r.Method)))
	}
}

// isWatch reports watch=true (or 1) on a GET.
func isWatch(r *http.Request) bool {
	v := r.URL.Query().Get("watch")
	return v == "true" || v == "1"
}

func isNamespaces(res *resource) bool {
	return res.GroupVersion.Group == "" && res.Plural == "namespaces"
}

func isPods(res *resource) bool {
	return res.GroupVersion.Group == "" && res.Plural == "pods"
}
