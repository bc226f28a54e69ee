// Package apiserver serves the Kubernetes REST API over the registry's
// resources: discovery, OpenAPI, CRUD with list/watch, patch, deletion with
// finalizers and grace periods, and the status, binding, eviction, log,
// exec and attach subresources.
package apiserver

import (
	"fmt"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/version"
	"k8s.io/utils/clock"

	"github.com/batchlet/batchlet/internal/apiserver/authn"
	"github.com/batchlet/batchlet/internal/registry"
	"github.com/batchlet/batchlet/internal/storage"
)

// DefaultMaxRequestBodyBytes is upstream's limit on request bodies (3 MiB).
const DefaultMaxRequestBodyBytes = 3 * 1024 * 1024

// Config is what New needs.
type Config struct {
	Storage   storage.Interface
	Resources []registry.Resource
	// Authenticator identifies callers; nil lets every request through.
	Authenticator authn.Authenticator
	// NodeTransport reaches node agents for log, exec and attach.
	NodeTransport http.RoundTripper
	// Version is served at /version.
	Version version.Info
	// Ready reports readiness for /readyz; nil or a nil error means ready.
	Ready func() error
	// Clock stamps creation and deletion times and times watches out and
	// their bookmarks; nil means the real clock.
	Clock clock.WithTicker
	// MaxRequestBodyBytes caps request bodies; 0 means the default.
	MaxRequestBodyBytes int64
}

// New returns the apiserver's HTTP handler.
func New(cfg Config) (http.Handler, error) {
	if cfg.Storage == nil {
		return nil, fmt.Errorf("apiserver: no storage configured")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.MaxRequestBodyBytes <= 0 {
		cfg.MaxRequestBodyBytes = DefaultMaxRequestBodyBytes
	}
	if cfg.NodeTransport == nil {
		cfg.NodeTransport = http.DefaultTransport
	}
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// watchDefaults are the server's watch timings; tests shorten them.
type watchDefaults struct {
	// bookmarkInterval spaces BOOKMARK events when a client allows them.
	bookmarkInterval time.Duration
	// minTimeout is the shortest watch when the client names no timeout;
	// the actual timeout is randomised in [minTimeout, 2*minTimeout).
	minTimeout time.Duration
}
