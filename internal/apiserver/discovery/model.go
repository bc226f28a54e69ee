// Package discovery serves the Kubernetes discovery documents (/api, /apis
// and below) for the resources the apiserver serves: aggregated discovery
// (apidiscovery.k8s.io/v2 and v2beta1) when the client asks for it, the
// legacy APIVersions/APIGroupList/APIGroup/APIResourceList otherwise.
package discovery

import (
	"crypto/sha256"
	"encoding/base64"
	"sort"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"

	"github.com/batchlet/batchlet/internal/registry"
)

// defaultVerbs are served when a Resource names none.
var defaultVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// statusVerbs are the verbs of every /status subresource.
var statusVerbs = []string{"get", "patch", "update"}

// subresource is one subresource as discovery lists it.
type subresource struct {
	name  string
	kind  schema.GroupVersionKind
	verbs []string
}

// resource is one resource with everything discovery says about it.
type resource struct {
	registry.Resource
	verbs        []string
	subresources []subresource // sorted by name
}

// groupVersion holds the resources of one group version, sorted by name.
type groupVersion struct {
	version   string
	resources []resource
}

// group holds the versions of one group, preferred version first.
type group struct {
	name     string
	versions []groupVersion
}

// model is the served API surface: the core group (name "") first, then
// the named groups in upstream priority order.
type model struct {
	core   *group
	groups []group
}

func buildModel(resources []registry.Resource) model {
	byGV := map[schema.GroupVersion][]resource{}
	for _, r := range resources {
		if r.Plural == "" || r.GroupVersion.Version == "" {
			continue
		}
		byGV[r.GroupVersion] = append(byGV[r.GroupVersion], newResource(r))
	}
	byGroup := map[string]*group{}
	for gv, rs := range byGV {
		sort.Slice(rs, func(i, j int) bool { return rs[i].Plural < rs[j].Plural })
		g := byGroup[gv.Group]
		if g == nil {
			g = &group{name: gv.Group}
			byGroup[gv.Group] = g
		}
		g.versions = append(g.versions, groupVersion{version: gv.Version, resources: rs})
	}
	var m model
	for name, g := range byGroup {
		sort.Slice(g.versions, func(i, j int) bool {
			return version.CompareKubeAwareVersionStrings(g.versions[i].version, g.versions[j].version) > 0
		})
		if name == "" {
			m.core = g
			continue
		}
		m.groups = append(m.groups, *g)
	}
	sort.Slice(m.groups, func(i, j int) bool { return groupLess(m.groups[i].name, m.groups[j].name) })
	return m
}

func newResource(r registry.Resource) resource {
	out := resource{Resource: r, verbs: r.Verbs}
	if out.verbs == nil {
		out.verbs = defaultVerbs
	}
	if r.Status != nil {
		out.subresources = append(out.subresources, subresource{
			name: "status", kind: r.GroupVersionKind(), verbs: statusVerbs,
		})
	}
	for _, s := range r.Subresources {
		if s.Name == "" || (s.Name == "status" && r.Status != nil) {
			continue
		}
		kind := s.Kind
		if kind.Kind == "" {
			kind = r.GroupVersionKind()
		}
		verbs := s.Verbs
		if verbs == nil {
			verbs = []string{}
		}
		out.subresources = append(out.subresources, subresource{name: s.Name, kind: kind, verbs: verbs})
	}
	sort.Slice(out.subresources, func(i, j int) bool { return out.subresources[i].name < out.subresources[j].name })
	return out
}

// find returns the group with the given name ("" is the core group).
func (m model) find(name string) *group {
	if name == "" {
		return m.core
	}
	for i := range m.groups {
		if m.groups[i].name == name {
			return &m.groups[i]
		}
	}
	return nil
}

// version returns the group version v of g.
func (g *group) version(v string) *groupVersion {
	if g == nil {
		return nil
	}
	for i := range g.versions {
		if g.versions[i].version == v {
			return &g.versions[i]
		}
	}
	return nil
}

// storageVersionHash is the opaque hash upstream publishes so that clients
// can tell when a resource's storage version changed.
func storageVersionHash(gvk schema.GroupVersionKind) string {
	sum := sha256.Sum256([]byte(gvk.Group + "/" + gvk.Version + "/" + gvk.Kind))
	return base64.StdEncoding.EncodeToString(sum[:8])
}
