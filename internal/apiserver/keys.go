package apiserver

import "github.com/batchlet/batchlet/internal/registry"

// StorageGroup is the key segment of a group; the core group is "core".
func StorageGroup(group string) string {
	if group == "" {
		return "core"
	}
	return group
}

// StoragePrefix is the key prefix holding a resource's objects in
// namespace ns ("" for cluster-scoped kinds and for all namespaces).
// It ends in "/".
func StoragePrefix(res registry.Resource, ns string) string {
	p := "/registry/" + StorageGroup(res.GroupVersion.Group) + "/" + res.Plural + "/"
	if res.Namespaced && ns != "" {
		p += ns + "/"
	}
	return p
}

// StorageKey is the key of one object: /registry/<group>/<resource>/<ns>/<name>,
// without the namespace segment for cluster-scoped kinds.
func StorageKey(res registry.Resource, ns, name string) string {
	return StoragePrefix(res, ns) + name
}
