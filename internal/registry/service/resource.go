// Package service is the registry of core/v1 services: upstream's
// defaults and validation, cluster IP allocation from a service CIDR
// (bitmap kept in storage), status and `kubectl get services`.
package service

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/batchlet/batchlet/internal/registry"
)

// Resource describes core/v1 services; cluster IPs come from alloc (nil
// leaves them unallocated, for tests of other layers).
func Resource(alloc IPAllocator) registry.Resource {
	return registry.Resource{
		GroupVersion: corev1.SchemeGroupVersion,
		Kind:         "Service",
		ListKind:     "ServiceList",
		Plural:       "services",
		Singular:     "service",
		ShortNames:   []string{"svc"},
		Categories:   []string{"all"},
		Namespaced:   true,
		New:          func() runtime.Object { return &corev1.Service{} },
		NewList:      func() runtime.Object { return &corev1.ServiceList{} },
		Strategy:     strategy{alloc: alloc},
		Status:       statusStrategy{},
		Table:        table{},
		Verbs:        []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
	}
}
