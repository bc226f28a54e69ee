package openapi

import (
	"reflect"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// flavor says which document a schema set is for: Swagger 2.0 refers to
// "#/definitions/", OpenAPI 3 to "#/components/schemas/" and may use oneOf.
type flavor int

const (
	v2 flavor = iota
	v3
)

// Interfaces of apimachinery types that serialise as a JSON scalar (Time,
// Quantity, IntOrString, Duration ...): they describe their own schema.
type (
	openAPITypeNamer   interface{ OpenAPISchemaType() []string }
	openAPIFormatNamer interface{ OpenAPISchemaFormat() string }
	openAPIV3OneOfer   interface{ OpenAPIV3OneOfTypes() []string }
	swaggerDocer       interface{ SwaggerDoc() map[string]string }
)

// generator turns Go types into named OpenAPI definitions by reflection.
type generator struct {
	flavor flavor
	defs   map[string]*spec.Schema
	// gvks lists the kinds a type is served as, for
	// x-kubernetes-group-version-kind.
	gvks  map[reflect.Type][]schema.GroupVersionKind
	lists listTypes
	// visiting holds the unnamed-schema types being expanded, so that a
	// self-referential map or slice type ends instead of recursing.
	visiting map[reflect.Type]bool
}

func newGenerator(f flavor, gvks map[reflect.Type][]schema.GroupVersionKind, lists listTypes) *generator {
	return &generator{flavor: f, defs: map[string]*spec.Schema{}, gvks: gvks, lists: lists,
		visiting: map[reflect.Type]bool{}}
}

func (g *generator) ref(name string) spec.Ref {
	if g.flavor == v3 {
		return spec.MustCreateRef("#/components/schemas/" + name)
	}
	return spec.MustCreateRef("#/definitions/" + name)
}

// define adds the definition of the named type t (and of everything it
// reaches) and returns its name.
func (g *generator) define(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name := definitionName(t)
	if _, ok := g.defs[name]; ok {
		return name
	}
	s := &spec.Schema{}
	g.defs[name] = s // before recursing: types may refer to themselves
	if scalar, ok := g.scalar(t); ok {
		*s = scalar
	} else {
		s.Type = spec.StringOrArray{"object"}
		g.addFields(s, t)
	}
	if doc := swaggerDoc(t); doc != nil {
		s.Description = doc[""]
	} else {
		s.Description = scalarDescriptions[name]
	}
	if lt, ok := g.lists.lookup(name, ""); ok && lt.mapType != "" {
		s.AddExtension("x-kubernetes-map-type", lt.mapType)
	}
	if gvks := g.gvks[t]; len(gvks) > 0 {
		list := make([]any, 0, len(gvks))
		for _, gvk := range gvks {
			list = append(list, map[string]any{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind})
		}
		s.AddExtension("x-kubernetes-group-version-kind", list)
	}
	return name
}

// scalar returns the schema of a named type that serialises as a scalar.
func (g *generator) scalar(t reflect.Type) (spec.Schema, bool) {
	v := reflect.New(t).Elem().Interface()
	namer, ok := v.(openAPITypeNamer)
	if !ok {
		return spec.Schema{}, false
	}
	var s spec.Schema
	if f, ok := v.(openAPIFormatNamer); ok {
		s.Format = f.OpenAPISchemaFormat()
	}
	if o, ok := v.(openAPIV3OneOfer); ok && g.flavor == v3 {
		for _, typ := range o.OpenAPIV3OneOfTypes() {
			s.OneOf = append(s.OneOf, spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{typ}}})
		}
	} else {
		s.Type = namer.OpenAPISchemaType()
	}
	if s.Format == "int-or-string" {
		s.AddExtension("x-kubernetes-int-or-string", true)
	}
	return s, true
}

// addFields fills the properties of struct type t into s, flattening
// inlined and embedded structs.
func (g *generator) addFields(s *spec.Schema, t reflect.Type) {
	if t.Kind() != reflect.Struct {
		return
	}
	doc := swaggerDoc(t)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts := parseJSONTag(f.Tag.Get("json"))
		if name == "-" && opts == "" {
			continue
		}
		if f.Anonymous && name == "" || strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			g.addFields(s, ft)
			continue
		}
		if name == "" {
			name = f.Name
		}
		prop := g.property(f.Type, doc[name])
		g.addFieldExtensions(&prop, t, f, name)
		if s.Properties == nil {
			s.Properties = map[string]spec.Schema{}
		}
		s.Properties[name] = prop
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			s.Required = append(s.Required, name)
		}
	}
	sort.Strings(s.Required)
}

// addFieldExtensions sets the merge and list extensions of a field from its
// struct tags and the known list types.
func (g *generator) addFieldExtensions(prop *spec.Schema, owner reflect.Type, f reflect.StructField, name string) {
	if v := f.Tag.Get("patchStrategy"); v != "" {
		prop.AddExtension("x-kubernetes-patch-strategy", v)
	}
	if v := f.Tag.Get("patchMergeKey"); v != "" {
		prop.AddExtension("x-kubernetes-patch-merge-key", v)
	}
	lt, ok := g.lists.lookup(definitionName(owner), name)
	if !ok {
		return
	}
	if lt.listType != "" {
		prop.AddExtension("x-kubernetes-list-type", lt.listType)
	}
	if len(lt.keys) > 0 {
		prop.AddExtension("x-kubernetes-list-map-keys", lt.keys)
	}
	if lt.mapType != "" {
		prop.AddExtension("x-kubernetes-map-type", lt.mapType)
	}
}

// property is the schema of a value of type t, with a description.
func (g *generator) property(t reflect.Type, description string) spec.Schema {
	s := g.typeSchema(t)
	if description == "" {
		return s
	}
	if s.Ref.String() != "" && g.flavor == v3 {
		// OpenAPI 3.0 ignores siblings of $ref; upstream wraps it.
		return spec.Schema{SchemaProps: spec.SchemaProps{AllOf: []spec.Schema{s}, Description: description}}
	}
	s.Description = description
	return s
}

// typeSchema is the schema of a value of type t without description.
func (g *generator) typeSchema(t reflect.Type) spec.Schema {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() != "" && t.PkgPath() != "" {
		if t.Kind() == reflect.Struct {
			return spec.Schema{SchemaProps: spec.SchemaProps{Ref: g.ref(g.define(t))}}
		}
		if _, ok := reflect.New(t).Elem().Interface().(openAPITypeNamer); ok {
			return spec.Schema{SchemaProps: spec.SchemaProps{Ref: g.ref(g.define(t))}}
		}
	}
	if g.visiting[t] {
		return simple("object", "")
	}
	g.visiting[t] = true
	defer delete(g.visiting, t)
	switch t.Kind() {
	case reflect.String:
		return simple("string", "")
	case reflect.Bool:
		return simple("boolean", "")
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64:
		return simple("integer", "int64")
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return simple("integer", "int32")
	case reflect.Float32:
		return simple("number", "float")
	case reflect.Float64:
		return simple("number", "double")
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return simple("string", "byte")
		}
		items := g.typeSchema(t.Elem())
		s := simple("array", "")
		s.Items = &spec.SchemaOrArray{Schema: &items}
		return s
	case reflect.Map:
		values := g.typeSchema(t.Elem())
		s := simple("object", "")
		s.AdditionalProperties = &spec.SchemaOrBool{Allows: true, Schema: &values}
		return s
	case reflect.Struct:
		s := simple("object", "")
		g.addFields(&s, t)
		return s
	default: // interfaces and the like: anything goes
		return simple("object", "")
	}
}

func simple(typ, format string) spec.Schema {
	return spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{typ}, Format: format}}
}

func swaggerDoc(t reflect.Type) map[string]string {
	if d, ok := reflect.New(t).Elem().Interface().(swaggerDocer); ok {
		return d.SwaggerDoc()
	}
	return nil
}

func parseJSONTag(tag string) (name, opts string) {
	name, opts, _ = strings.Cut(tag, ",")
	return name, opts
}
