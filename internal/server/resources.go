package server

import (
	"github.com/batchlet/batchlet/internal/registry"
	"github.com/batchlet/batchlet/internal/registry/configmap"
	"github.com/batchlet/batchlet/internal/registry/cronjob"
	"github.com/batchlet/batchlet/internal/registry/endpoints"
	"github.com/batchlet/batchlet/internal/registry/event"
	"github.com/batchlet/batchlet/internal/registry/job"
	"github.com/batchlet/batchlet/internal/registry/lease"
	"github.com/batchlet/batchlet/internal/registry/namespace"
	"github.com/batchlet/batchlet/internal/registry/node"
	"github.com/batchlet/batchlet/internal/registry/pod"
	"github.com/batchlet/batchlet/internal/registry/secret"
	"github.com/batchlet/batchlet/internal/registry/service"
	"github.com/batchlet/batchlet/internal/registry/serviceaccount"
	"github.com/batchlet/batchlet/internal/storage"
)

// resources lists every kind the apiserver serves.
func resources(store storage.Interface, serviceCIDR string) ([]registry.Resource, error) {
	alloc, err := service.NewStorageAllocator(store, serviceCIDR)
	if err != nil {
		return nil, err
	}
	return []registry.Resource{
		namespace.Resource(),
		pod.Resource(),
		node.Resource(),
		service.Resource(alloc),
		endpoints.Resource(),
		configmap.Resource(),
		secret.Resource(),
		serviceaccount.Resource(),
		event.Resource(),
		lease.Resource(),
		job.Resource(),
		cronjob.Resource(),
	}, nil
}
