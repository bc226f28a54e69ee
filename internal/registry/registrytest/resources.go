// Package registrytest has registry fixtures for the apiserver's tests.
package registrytest

import (
	"context"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/batchlet/batchlet/internal/registry"
)

type statusStrategy struct{}

func (statusStrategy) PrepareForStatusUpdate(context.Context, runtime.Object, runtime.Object) {}
func (statusStrategy) ValidateStatusUpdate(context.Context, runtime.Object, runtime.Object) field.ErrorList {
	return nil
}

// Resources mirrors the shape of the real registries: a namespaced kind
// with status in a named group, core pods with subresources in another
// group, and a cluster-scoped core kind.
func Resources() []registry.Resource {
	core := schema.GroupVersion{Version: "v1"}
	batch := batchv1.SchemeGroupVersion
	return []registry.Resource{
		{
			GroupVersion: core, Kind: "Pod", ListKind: "PodList", Plural: "pods", Singular: "pod",
			ShortNames: []string{"po"}, Categories: []string{"all"}, Namespaced: true,
			New:     func() runtime.Object { return &corev1.Pod{} },
			NewList: func() runtime.Object { return &corev1.PodList{} },
			Status:  statusStrategy{},
			Subresources: []registry.Subresource{
				{Name: "eviction", Kind: schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}, Verbs: []string{"create"}},
				{Name: "log", Kind: core.WithKind("Pod"), Verbs: []string{"get"}},
				{Name: "binding", Kind: core.WithKind("Binding"), Verbs: []string{"create"}},
			},
		},
		{
			GroupVersion: core, Kind: "Namespace", ListKind: "NamespaceList", Plural: "namespaces", Singular: "namespace",
			ShortNames: []string{"ns"},
			New:        func() runtime.Object { return &corev1.Namespace{} },
			NewList:    func() runtime.Object { return &corev1.NamespaceList{} },
			Verbs:      []string{"create", "delete", "get", "list", "patch", "update", "watch"},
		},
		{
			GroupVersion: batch, Kind: "CronJob", ListKind: "CronJobList", Plural: "cronjobs", Singular: "cronjob",
			ShortNames: []string{"cj"}, Categories: []string{"all"}, Namespaced: true,
			New:     func() runtime.Object { return &batchv1.CronJob{} },
			NewList: func() runtime.Object { return &batchv1.CronJobList{} },
			Status:  statusStrategy{},
		},
		{
			GroupVersion: batch, Kind: "Job", ListKind: "JobList", Plural: "jobs", Singular: "job",
			Categories: []string{"all"}, Namespaced: true,
			New:     func() runtime.Object { return &batchv1.Job{} },
			NewList: func() runtime.Object { return &batchv1.JobList{} },
			Status:  statusStrategy{},
		},
		{
			GroupVersion: schema.GroupVersion{Group: "coordination.k8s.io", Version: "v1"},
			Kind:         "Lease", ListKind: "LeaseList", Plural: "leases", Singular: "lease", Namespaced: true,
		},
	}
}
