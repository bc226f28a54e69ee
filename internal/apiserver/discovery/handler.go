package discovery

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/batchlet/batchlet/internal/registry"
)

// Handler serves GET /api, /api/<v>, /apis, /apis/<group> and
// /apis/<group>/<version>. Documents are computed once, at New.
type Handler struct {
	model model
	// aggregated holds the marshalled aggregated documents, keyed by
	// "<root>/<apidiscovery version>" (root is "api" or "apis").
	aggregated map[string]document
	// legacy holds the marshalled legacy documents by URL path, except
	// /api, whose server address depends on the request.
	legacy map[string][]byte
}

type document struct {
	body []byte
	etag string
}

// New builds the discovery documents of resources.
func New(resources []registry.Resource) *Handler {
	h := &Handler{
		model:      buildModel(resources),
		aggregated: map[string]document{},
		legacy:     map[string][]byte{},
	}
	var core []group
	if h.model.core != nil {
		core = []group{*h.model.core}
	}
	for _, v := range aggregatedVersions {
		for root, groups := range map[string][]group{"api": core, "apis": h.model.groups} {
			list := aggregatedList(groups)
			list.APIVersion = aggregatedGroup + "/" + v
			h.aggregated[root+"/"+v] = newDocument(mustMarshal(list))
		}
	}
	h.legacy["/apis"] = mustMarshal(apiGroupList(h.model.groups))
	if h.model.core != nil {
		for _, v := range h.model.core.versions {
			h.legacy["/api/"+v.version] = mustMarshal(apiResourceList("", v))
		}
	}
	for _, g := range h.model.groups {
		h.legacy["/apis/"+g.name] = mustMarshal(apiGroup(g))
		for _, v := range g.versions {
			h.legacy["/apis/"+g.name+"/"+v.version] = mustMarshal(apiResourceList(g.name, v))
		}
	}
	return h
}

func newDocument(body []byte) document {
	sum := sha256.Sum256(body)
	return document{body: body, etag: `"` + hex.EncodeToString(sum[:]) + `"`}
}

// mustMarshal marshals discovery types, which are plain data and always
// marshal; a failure would be a programming error, reported in the body
// rather than by panicking.
func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(fmt.Sprintf(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":%q,"code":500}`, err.Error()))
	}
	return b
}

// ServeHTTP answers the discovery paths; any other path is a 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeStatus(w, apierrors.NewMethodNotSupported(schema.GroupResource{}, r.Method))
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	if path == "/api" || path == "/apis" {
		if v := negotiate(r.Header.Get("Accept")); v != "" {
			h.serveAggregated(w, r, strings.TrimPrefix(path, "/")+"/"+v, v)
			return
		}
	}
	if path == "/api" {
		writeJSON(w, http.StatusOK, mustMarshal(apiVersions(h.model.core, r.Host)))
		return
	}
	if body, ok := h.legacy[path]; ok {
		writeJSON(w, http.StatusOK, body)
		return
	}
	writeStatus(w, apierrors.NewGenericServerResponse(http.StatusNotFound, r.Method, schema.GroupResource{}, "", "", 0, false))
}

func (h *Handler) serveAggregated(w http.ResponseWriter, r *http.Request, key, version string) {
	doc := h.aggregated[key]
	w.Header().Set("Vary", "Accept")
	w.Header().Set("Cache-Control", "public")
	w.Header().Set("ETag", doc.etag)
	w.Header().Set("Content-Type", aggregatedContentType(version))
	if match := r.Header.Get("If-None-Match"); match != "" && match == doc.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc.body)
}

func writeJSON(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func writeStatus(w http.ResponseWriter, err *apierrors.StatusError) {
	status := err.Status()
	status.Kind, status.APIVersion = "Status", "v1"
	writeJSON(w, int(status.Code), mustMarshal(status))
}
