package garbagecollector

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// DefaultResources are the resources the collector watches when they are
// served. Events are left out, as upstream ignores them: they are never
// owners and are numerous.
var DefaultResources = []schema.GroupResource{
	{Resource: "namespaces"},
	{Resource: "nodes"},
	{Resource: "pods"},
	{Resource: "services"},
	{Resource: "endpoints"},
	{Resource: "configmaps"},
	{Resource: "secrets"},
	{Resource: "serviceaccounts"},
	{Resource: "persistentvolumeclaims"},
	{Resource: "replicationcontrollers"},
	{Group: "apps", Resource: "deployments"},
	{Group: "apps", Resource: "replicasets"},
	{Group: "apps", Resource: "statefulsets"},
	{Group: "apps", Resource: "daemonsets"},
	{Group: "batch", Resource: "jobs"},
	{Group: "batch", Resource: "cronjobs"},
	{Group: "coordination.k8s.io", Resource: "leases"},
	{Group: "discovery.k8s.io", Resource: "endpointslices"},
	{Group: "policy", Resource: "poddisruptionbudgets"},
}

// servedResource is a resource to watch, with its scope.
type servedResource struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}

// resolveResources keeps the candidates the mapper knows, at their
// preferred version.
func resolveResources(mapper meta.RESTMapper, candidates []schema.GroupResource) []servedResource {
	var out []servedResource
	seen := map[schema.GroupVersionResource]bool{}
	for _, gr := range candidates {
		gvk, err := mapper.KindFor(gr.WithVersion(""))
		if err != nil {
			continue
		}
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil || seen[m.Resource] {
			continue
		}
		seen[m.Resource] = true
		out = append(out, servedResource{gvr: m.Resource, namespaced: m.Scope.Name() == meta.RESTScopeNameNamespace})
	}
	return out
}
