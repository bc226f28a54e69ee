package apiserver

import (
	"fmt"
	"log"
	"net/http"
	"reflect"
	"runtime/debug"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/batchlet/batchlet/internal/inproc"
	"github.com/batchlet/batchlet/internal/registry"
	"github.com/batchlet/batchlet/internal/storage"
)

// server is the apiserver's root handler.
type server struct {
	cfg    Config
	store  storage.Interface
	scheme *runtime.Scheme
	codecs serializer.CodecFactory
	// handover answers in-process clients that ask for objects by
	// reference (inproc.ObjectMediaType).
	handover  runtime.SerializerInfo
	resources map[resourceKey]*resource
	// discovery and openapi serve their paths when set.
	discovery http.Handler
	openapi   http.Handler
	watch     watchDefaults
	// watchCaches fan storage watches out, one per resource.
	watchCaches map[resourceKey]*watchCache
	// generalPatchesOnly turns the patch fast paths (finalizers, pod
	// conditions) off, for tests comparing them with the general path.
	generalPatchesOnly bool
}

type resourceKey struct {
	group, version, plural string
}

// resource is a registry.Resource with what the handlers derive from it.
type resource struct {
	registry.Resource
	gr schema.GroupResource
	gk schema.GroupKind
	// fieldKeys are the field selector keys the kind supports.
	fieldKeys map[string]bool
	verbs     map[string]bool
	// trackFields: the field manager knows the kind's schema, so writes
	// record managedFields.
	trackFields bool
	// goType is the Go type of the kind's objects.
	goType reflect.Type
	// copyPatchable: a JSON round trip of a stored object changes nothing,
	// so finalizer patches may edit a copy (see finalizerpatch.go).
	copyPatchable bool
}

func newServer(cfg Config) (*server, error) {
	scheme, err := newScheme()
	if err != nil {
		return nil, fmt.Errorf("apiserver: building scheme: %w", err)
	}
	s := &server{
		cfg:         cfg,
		store:       cfg.Storage,
		scheme:      scheme,
		codecs:      newCodecs(scheme),
		handover:    inproc.ObjectSerializerInfo(scheme, scheme),
		resources:   map[resourceKey]*resource{},
		watchCaches: map[resourceKey]*watchCache{},
		watch:       watchDefaults{bookmarkInterval: time.Minute, minTimeout: 30 * time.Minute},
	}
	for _, r := range cfg.Resources {
		res, err := newResource(r)
		if err != nil {
			return nil, err
		}
		key := resourceKey{r.GroupVersion.Group, r.GroupVersion.Version, r.Plural}
		if _, dup := s.resources[key]; dup {
			return nil, fmt.Errorf("apiserver: resource %s registered twice", r.GroupVersionResource())
		}
		s.resources[key] = res
		s.watchCaches[key] = newWatchCache(StoragePrefix(r, ""), cfg.Storage, s.setKind)
	}
	if err := s.initDelegates(); err != nil {
		return nil, err
	}
	return s, nil
}

func newResource(r registry.Resource) (*resource, error) {
	if r.New == nil || r.NewList == nil || r.Strategy == nil || r.Plural == "" || r.Kind == "" {
		return nil, fmt.Errorf("apiserver: resource %s is incomplete", r.GroupVersionResource())
	}
	res := &resource{
		Resource:  r,
		gr:        schema.GroupResource{Group: r.GroupVersion.Group, Resource: r.Plural},
		gk:        schema.GroupKind{Group: r.GroupVersion.Group, Kind: r.Kind},
		fieldKeys: map[string]bool{"metadata.name": true, "metadata.namespace": true},
		verbs:     map[string]bool{},
		// managedFields are tracked for the kinds client-go knows.
		trackFields: clientgoscheme.Scheme.Recognizes(r.GroupVersionKind()),
		goType:      reflect.TypeOf(r.New()),
	}
	res.copyPatchable = res.goType.Kind() == reflect.Pointer && jsonRoundTripIsCopy(res.goType.Elem())
	_, fs, err := r.Strategy.GetAttrs(r.New())
	if err != nil {
		return nil, fmt.Errorf("apiserver: field selectors of %s: %w", r.GroupVersionResource(), err)
	}
	for k := range fs {
		res.fieldKeys[k] = true
	}
	verbs := r.Verbs
	if verbs == nil {
		verbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	}
	for _, v := range verbs {
		res.verbs[v] = true
	}
	return res, nil
}

// lookup finds the resource of a parsed path.
func (s *server) lookup(gv schema.GroupVersion, plural string) *resource {
	return s.resources[resourceKey{gv.Group, gv.Version, plural}]
}

// ServeHTTP routes a request, converting panics into 500s.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			log.Printf("apiserver: panic serving %s %s: %v\n%s", r.Method, r.URL.Path, v, debug.Stack())
			s.writeError(w, r, apierrors.NewInternalError(fmt.Errorf("%v", v)))
		}
	}()
	switch path := r.URL.Path; {
	case path == "/version":
		s.serveVersion(w, r)
		return
	case isHealthPath(path):
		s.serveHealth(w, r)
		return
	}
	if !s.authenticate(w, r) {
		return
	}
	path := r.URL.Path
	switch {
	case isDiscoveryPath(path) && s.discovery != nil:
		s.discovery.ServeHTTP(w, r)
	case (path == "/openapi/v2" || path == "/openapi/v3" || strings.HasPrefix(path, "/openapi/v3/")) && s.openapi != nil:
		s.openapi.ServeHTTP(w, r)
	default:
		s.serveResource(w, r)
	}
}

// authenticate lets the request through or answers 401.
func (s *server) authenticate(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.Authenticator == nil {
		return true
	}
	_, ok, err := s.cfg.Authenticator.Authenticate(r)
	if err != nil || !ok {
		s.writeError(w, r, apierrors.NewUnauthorized("Unauthorized"))
		return false
	}
	return true
}

// isDiscoveryPath reports the paths discovery serves: /api, /api/<v>,
// /apis, /apis/<g> and /apis/<g>/<v>.
func isDiscoveryPath(path string) bool {
	parts := splitPath(path)
	switch {
	case len(parts) == 0:
		return false
	case parts[0] == "api":
		return len(parts) <= 2
	case parts[0] == "apis":
		return len(parts) <= 3
	}
	return false
}

// notFound is upstream's answer for a path nothing serves.
func notFound() error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusNotFound,
		Reason:  metav1.StatusReasonNotFound,
		Message: "the server could not find the requested resource",
		Details: &metav1.StatusDetails{},
	}}
}
