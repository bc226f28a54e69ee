package garbagecollector

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/discovery"
)

// ignoredResources are never watched, as upstream: events are never
// owners and are numerous.
var ignoredResources = map[schema.GroupResource]bool{
	{Group: "", Resource: "events"}:              true,
	{Group: "events.k8s.io", Resource: "events"}: true,
}

// deletableVerbs are what the collector needs of a resource: watch it
// into the graph and delete its dependents.
var deletableVerbs = sets.New("delete", "list", "watch")

// ResourceDiscoverer is the part of a discovery client the collector
// uses; a kubernetes.Interface's Discovery() is one.
type ResourceDiscoverer interface {
	ServerPreferredResources() ([]*metav1.APIResourceList, error)
}

// servedResource is a resource to watch, with its scope.
type servedResource struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}

// discoverResources returns every resource discovery serves, at its
// group's preferred version, that supports delete, list and watch, less
// the ignored ones. As upstream, a group that failed discovery is
// skipped and the others are used; the error is returned beside them.
func discoverResources(d ResourceDiscoverer) ([]servedResource, error) {
	lists, err := d.ServerPreferredResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, fmt.Errorf("discovering served resources: %w", err)
	}
	var out []servedResource
	seen := map[schema.GroupVersionResource]bool{}
	for _, list := range lists {
		if list == nil {
			continue
		}
		gv, perr := schema.ParseGroupVersion(list.GroupVersion)
		if perr != nil {
			continue
		}
		for _, r := range list.APIResources {
			// Subresources are reached through their parent.
			if strings.Contains(r.Name, "/") || !sets.New(r.Verbs...).IsSuperset(deletableVerbs) {
				continue
			}
			gvr := gv.WithResource(r.Name)
			if ignoredResources[gvr.GroupResource()] || seen[gvr] {
				continue
			}
			seen[gvr] = true
			out = append(out, servedResource{gvr: gvr, namespaced: r.Namespaced})
		}
	}
	if err != nil {
		return out, fmt.Errorf("discovering served resources: %w", err)
	}
	return out, nil
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
