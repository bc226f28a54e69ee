package discovery

import (
	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// aggregatedList builds the APIGroupDiscoveryList of the given groups.
// The v2beta1 document has the same shape; only apiVersion differs, so the
// caller sets it.
func aggregatedList(groups []group) *apidiscoveryv2.APIGroupDiscoveryList {
	list := &apidiscoveryv2.APIGroupDiscoveryList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList"},
		Items:    []apidiscoveryv2.APIGroupDiscovery{},
	}
	for _, g := range groups {
		item := apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: g.name}}
		for _, v := range g.versions {
			item.Versions = append(item.Versions, aggregatedVersion(v))
		}
		list.Items = append(list.Items, item)
	}
	return list
}

func aggregatedVersion(v groupVersion) apidiscoveryv2.APIVersionDiscovery {
	out := apidiscoveryv2.APIVersionDiscovery{
		Version:   v.version,
		Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent,
	}
	for _, r := range v.resources {
		scope := apidiscoveryv2.ScopeCluster
		if r.Namespaced {
			scope = apidiscoveryv2.ScopeNamespace
		}
		d := apidiscoveryv2.APIResourceDiscovery{
			Resource:         r.Plural,
			ResponseKind:     gvkOf(r.GroupVersionKind()),
			Scope:            scope,
			SingularResource: r.Singular,
			Verbs:            r.verbs,
			ShortNames:       r.ShortNames,
			Categories:       r.Categories,
		}
		for _, s := range r.subresources {
			d.Subresources = append(d.Subresources, apidiscoveryv2.APISubresourceDiscovery{
				Subresource:  s.name,
				ResponseKind: gvkOf(s.kind),
				Verbs:        s.verbs,
			})
		}
		out.Resources = append(out.Resources, d)
	}
	return out
}

func gvkOf(gvk schema.GroupVersionKind) *metav1.GroupVersionKind {
	return &metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind}
}
