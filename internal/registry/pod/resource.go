// Package pod is the registry of core/v1 pods: upstream's defaults,
// validation, create/update/status strategies, graceful deletion, field
// selectors and `kubectl get pods` columns. Job and CronJob templates use
// its template functions.
package pod

import (
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/batchlet/batchlet/internal/registry"
)

// Resource describes core/v1 pods.
func Resource() registry.Resource {
	return registry.Resource{
		GroupVersion: corev1.SchemeGroupVersion,
		Kind:         "Pod",
		ListKind:     "PodList",
		Plural:       "pods",
		Singular:     "pod",
		ShortNames:   []string{"po"},
		Categories:   []string{"all"},
		Namespaced:   true,
		New:          func() runtime.Object { return &corev1.Pod{} },
		NewList:      func() runtime.Object { return &corev1.PodList{} },
		Strategy:     strategy{},
		Status:       statusStrategy{},
		Table:        table{},
		Subresources: []registry.Subresource{
			{Name: "attach", Kind: corev1.SchemeGroupVersion.WithKind("PodAttachOptions"), Verbs: []string{"create", "get"}},
			{Name: "binding", Kind: corev1.SchemeGroupVersion.WithKind("Binding"), Verbs: []string{"create"}},
			{Name: "eviction", Kind: policyv1.SchemeGroupVersion.WithKind("Eviction"), Verbs: []string{"create"}},
			{Name: "exec", Kind: corev1.SchemeGroupVersion.WithKind("PodExecOptions"), Verbs: []string{"create", "get"}},
			{Name: "log", Kind: corev1.SchemeGroupVersion.WithKind("Pod"), Verbs: []string{"get"}},
		},
	}
}
