package openapi

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"

	"github.com/batchlet/batchlet/internal/applyschema"
)

// listType is what upstream's +listType/+listMapKey/+mapType markers say
// about one field. Those markers live in comments, out of reach of
// reflection; client-go ships them in the structured-merge-diff schema it
// uses for server-side apply, which is where they are read from.
type listType struct {
	listType string // atomic, set or map
	keys     []string
	mapType  string // atomic or granular
}

// listTypes maps "<definition name>.<json field>" to its list semantics.
type listTypes map[string]listType

func (l listTypes) lookup(definition, field string) (listType, bool) {
	lt, ok := l[definition+"."+field]
	return lt, ok
}

// loadListTypes reads the list and map semantics of every built-in type
// from the apply schema. On any failure it returns what it has:
// the documents are then only less precise.
func loadListTypes() listTypes {
	out := listTypes{}
	pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}}
	tv, err := applyschema.TypeConverter(scheme.Scheme).ObjectToTyped(pod)
	if err != nil || tv == nil || tv.Schema() == nil {
		return out
	}
	s := tv.Schema()
	for _, def := range s.Types {
		if def.Map == nil {
			continue
		}
		if def.Map.ElementRelationship == smdschema.Atomic && len(def.Map.Fields) > 0 {
			// A struct replaced as a whole (+structType=atomic).
			out[def.Name+"."] = listType{mapType: "atomic"}
		}
		for _, f := range def.Map.Fields {
			if f.Type.NamedType != nil && isStruct(s, *f.Type.NamedType) {
				continue // described on the struct's own definition
			}
			atom, ok := s.Resolve(f.Type)
			if !ok {
				continue
			}
			if lt, ok := fromAtom(atom); ok {
				out[def.Name+"."+f.Name] = lt
			}
		}
	}
	return out
}

func fromAtom(a smdschema.Atom) (listType, bool) {
	switch {
	case a.List != nil:
		switch a.List.ElementRelationship {
		case smdschema.Associative:
			if len(a.List.Keys) == 0 {
				return listType{listType: "set"}, true
			}
			return listType{listType: "map", keys: a.List.Keys}, true
		case smdschema.Atomic:
			return listType{listType: "atomic"}, true
		}
	case a.Map != nil && a.Map.ElementRelationship == smdschema.Atomic:
		return listType{mapType: "atomic"}, true
	}
	return listType{}, false
}

func isStruct(s *smdschema.Schema, name string) bool {
	def, ok := s.FindNamedType(name)
	return ok && def.Map != nil && len(def.Map.Fields) > 0
}
