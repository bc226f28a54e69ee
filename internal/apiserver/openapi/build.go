package openapi

import (
	"fmt"
	"reflect"
	"sort"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/batchlet/batchlet/internal/registry"
)

// model is the resolved API surface the documents describe.
type model struct {
	resources []served
	gvs       []schema.GroupVersion // served group versions, sorted
	gvks      map[reflect.Type][]schema.GroupVersionKind
	lists     listTypes
}

// metaTypes are documented in every document: the bodies and answers
// common to all resources.
var metaTypes = []reflect.Type{typeStatus, typeDeleteOptions, typeWatchEvent, typePatch, typeAPIResourceList}

func newModel(resources []registry.Resource, lists listTypes) (*model, error) {
	m := &model{gvks: map[reflect.Type][]schema.GroupVersionKind{}, lists: lists}
	seenGV := map[schema.GroupVersion]bool{}
	for _, r := range resources {
		s, err := resolve(r)
		if err != nil {
			return nil, fmt.Errorf("openapi: %w", err)
		}
		m.resources = append(m.resources, s)
		if !seenGV[r.GroupVersion] {
			seenGV[r.GroupVersion] = true
			m.gvs = append(m.gvs, r.GroupVersion)
		}
		m.addGVK(s.typ, r.GroupVersionKind())
		m.addGVK(s.listTyp, r.GroupVersion.WithKind(s.listTyp.Name()))
		for _, sub := range s.subs {
			if sub.typ != nil {
				m.addGVK(sub.typ, sub.kind)
			}
		}
	}
	sort.Slice(m.gvs, func(i, j int) bool { return m.gvs[i].String() < m.gvs[j].String() })
	m.addGVK(typeStatus, schema.GroupVersionKind{Version: "v1", Kind: "Status"})
	for _, gv := range m.gvs {
		m.addGVK(typeDeleteOptions, gv.WithKind("DeleteOptions"))
		m.addGVK(typeWatchEvent, gv.WithKind("WatchEvent"))
	}
	return m, nil
}

func (m *model) addGVK(t reflect.Type, gvk schema.GroupVersionKind) {
	for _, have := range m.gvks[t] {
		if have == gvk {
			return
		}
	}
	m.gvks[t] = append(m.gvks[t], gvk)
}

// in returns the resources of one group version.
func (m *model) in(gv schema.GroupVersion) []served {
	var out []served
	for _, s := range m.resources {
		if s.GroupVersion == gv {
			out = append(out, s)
		}
	}
	return out
}

// roots are the types whose definitions a document about rs needs.
func roots(rs []served) []reflect.Type {
	out := append([]reflect.Type{}, metaTypes...)
	for _, s := range rs {
		out = append(out, s.typ, s.listTyp)
		for _, sub := range s.subs {
			if sub.typ != nil {
				out = append(out, sub.typ)
			}
		}
	}
	return out
}

// definitions generates the schemas of every type reachable from rs.
func (m *model) definitions(f flavor, rs []served) *generator {
	g := newGenerator(f, m.gvks, m.lists)
	for _, t := range roots(rs) {
		g.define(t)
	}
	return g
}

// operations of rs, plus the group version's resource list, sorted by
// path then method for a stable document.
func operationsOf(gv schema.GroupVersion, rs []served) []operation {
	ops := []operation{{
		path: prefix(gv) + "/", method: "get", action: "", id: "get" + newNamer(gv).group + newNamer(gv).version + "APIResources",
		description: "get available resources", tag: tag(gv), response: typeAPIResourceList, codes: []int{200},
	}}
	for _, s := range rs {
		ops = append(ops, s.operations()...)
	}
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].path < ops[j].path })
	return ops
}
