package apiserver

import (
	"fmt"

	"github.com/batchlet/batchlet/internal/apiserver/discovery"
	"github.com/batchlet/batchlet/internal/apiserver/openapi"
)

// initDelegates builds the discovery and OpenAPI handlers.
func (s *server) initDelegates() error {
	s.discovery = discovery.New(s.cfg.Resources)
	oa, err := openapi.New(s.cfg.Resources)
	if err != nil {
		return fmt.Errorf("apiserver: building OpenAPI documents: %w", err)
	}
	s.openapi = oa
	return nil
}
