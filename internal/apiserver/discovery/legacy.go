package discovery

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// apiVersions is the legacy answer of /api.
func apiVersions(core *group, serverAddress string) *metav1.APIVersions {
	out := &metav1.APIVersions{
		TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
		Versions: []string{},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
			{ClientCIDR: "0.0.0.0/0", ServerAddress: serverAddress},
		},
	}
	if core != nil {
		for _, v := range core.versions {
			out.Versions = append(out.Versions, v.version)
		}
	}
	return out
}

// apiGroup is the legacy answer of /apis/<group>.
func apiGroup(g group) metav1.APIGroup {
	out := metav1.APIGroup{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
		Name:     g.name,
		Versions: []metav1.GroupVersionForDiscovery{},
	}
	for _, v := range g.versions {
		out.Versions = append(out.Versions, metav1.GroupVersionForDiscovery{
			GroupVersion: groupVersionString(g.name, v.version),
			Version:      v.version,
		})
	}
	if len(out.Versions) > 0 {
		out.PreferredVersion = out.Versions[0]
	}
	return out
}

// apiGroupList is the legacy answer of /apis.
func apiGroupList(groups []group) *metav1.APIGroupList {
	out := &metav1.APIGroupList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"},
		Groups:   []metav1.APIGroup{},
	}
	for _, g := range groups {
		ag := apiGroup(g)
		// Members of a list carry no type meta, as upstream.
		ag.TypeMeta = metav1.TypeMeta{}
		out.Groups = append(out.Groups, ag)
	}
	return out
}

// apiResourceList is the legacy answer of /api/v1 and /apis/<g>/<v>. Each
// subresource is an entry of its own named "<resource>/<subresource>";
// group and version are set only when its kind lives in another group
// version (pods/eviction is policy/v1 Eviction: kubectl drain looks for
// exactly that).
func apiResourceList(groupName string, v groupVersion) *metav1.APIResourceList {
	out := &metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: groupVersionString(groupName, v.version),
		APIResources: []metav1.APIResource{},
	}
	for _, r := range v.resources {
		out.APIResources = append(out.APIResources, metav1.APIResource{
			Name:               r.Plural,
			SingularName:       r.Singular,
			Namespaced:         r.Namespaced,
			Kind:               r.Kind,
			Verbs:              r.verbs,
			ShortNames:         r.ShortNames,
			Categories:         r.Categories,
			StorageVersionHash: storageVersionHash(r.GroupVersionKind()),
		})
		for _, s := range r.subresources {
			res := metav1.APIResource{
				Name:       r.Plural + "/" + s.name,
				Namespaced: r.Namespaced,
				Kind:       s.kind.Kind,
				Verbs:      s.verbs,
			}
			if s.kind.GroupVersion() != r.GroupVersion {
				res.Group, res.Version = s.kind.Group, s.kind.Version
			}
			out.APIResources = append(out.APIResources, res)
		}
	}
	return out
}

func groupVersionString(group, version string) string {
	if group == "" {
		return version
	}
	return group + "/" + version
}
