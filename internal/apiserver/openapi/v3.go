package openapi

import (
	"net/http"
	"reflect"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Media types an object answer may take.
var (
	objectMediaTypes = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	watchMediaTypes  = []string{
		"application/json", "application/yaml", "application/vnd.kubernetes.protobuf",
		"application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch",
	}
	textMediaTypes = []string{"text/plain", "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
)

// v3Document is the OpenAPI 3.0 document of one group version.
func (m *model) v3Document(gv schema.GroupVersion) *spec3.OpenAPI {
	rs := m.in(gv)
	g := m.definitions(v3, rs)
	doc := &spec3.OpenAPI{
		Version: "3.0.0",
		Info:    &spec.Info{InfoProps: spec.InfoProps{Title: "Kubernetes", Version: "unversioned"}},
		Paths:   &spec3.Paths{Paths: map[string]*spec3.Path{}},
		Components: &spec3.Components{
			Schemas:         g.defs,
			SecuritySchemes: spec3.SecuritySchemes{"BearerToken": bearerTokenV3()},
		},
		SecurityRequirement: []map[string][]string{{"BearerToken": {}}},
	}
	for _, op := range operationsOf(gv, rs) {
		path := doc.Paths.Paths[op.path]
		if path == nil {
			path = &spec3.Path{}
			for _, p := range op.pathParams {
				path.Parameters = append(path.Parameters, v3Param(p))
			}
			path.Parameters = append(path.Parameters, v3Param(prettyParam))
			doc.Paths.Paths[op.path] = path
		}
		o := v3Operation(g, op)
		switch op.method {
		case "get":
			path.Get = o
		case "post":
			path.Post = o
		case "put":
			path.Put = o
		case "patch":
			path.Patch = o
		case "delete":
			path.Delete = o
		}
	}
	return doc
}

func bearerTokenV3() *spec3.SecurityScheme {
	return &spec3.SecurityScheme{SecuritySchemeProps: spec3.SecuritySchemeProps{
		Type: "apiKey", Name: "authorization", In: "header",
		Description: "Bearer Token authentication",
	}}
}

func v3Param(p param) *spec3.Parameter {
	s := simple(p.typ, "")
	if p.in == "query" {
		s.UniqueItems = true
	}
	return &spec3.Parameter{ParameterProps: spec3.ParameterProps{
		Name: p.name, In: p.in, Description: p.description, Required: p.required, Schema: &s,
	}}
}

func v3Operation(g *generator, op operation) *spec3.Operation {
	o := &spec3.Operation{OperationProps: spec3.OperationProps{
		Tags: []string{op.tag}, Description: op.description, OperationId: op.id,
		Responses: &spec3.Responses{ResponsesProps: spec3.ResponsesProps{StatusCodeResponses: map[int]*spec3.Response{}}},
	}}
	for _, p := range op.query {
		o.Parameters = append(o.Parameters, v3Param(p))
	}
	switch op.body {
	case bodyObject:
		if op.bodyType != nil {
			o.RequestBody = v3Body(g, []string{"*/*"}, op.bodyType)
		}
	case bodyPatch:
		o.RequestBody = v3Body(g, patchContentTypes, typePatch)
	case bodyDelete:
		o.RequestBody = v3Body(g, []string{"*/*"}, typeDeleteOptions)
		o.RequestBody.Required = false
	}
	types := objectMediaTypes
	switch {
	case op.watch || op.action == "list":
		types = watchMediaTypes
	case op.response == nil:
		types = textMediaTypes
	}
	for _, code := range op.codes {
		o.Responses.StatusCodeResponses[code] = &spec3.Response{ResponseProps: spec3.ResponseProps{
			Description: http.StatusText(code), Content: v3Content(g, types, op.response),
		}}
	}
	o.Responses.StatusCodeResponses[http.StatusUnauthorized] = &spec3.Response{ResponseProps: spec3.ResponseProps{
		Description: http.StatusText(http.StatusUnauthorized),
	}}
	if op.action != "" {
		o.AddExtension("x-kubernetes-action", op.action)
	}
	if op.gvk.Kind != "" {
		o.AddExtension("x-kubernetes-group-version-kind", map[string]any{
			"group": op.gvk.Group, "version": op.gvk.Version, "kind": op.gvk.Kind,
		})
	}
	return o
}

func v3Body(g *generator, types []string, t reflect.Type) *spec3.RequestBody {
	return &spec3.RequestBody{RequestBodyProps: spec3.RequestBodyProps{
		Content: v3Content(g, types, t), Required: true,
	}}
}

// v3Content maps each media type to the schema of t (a string when t is
// nil).
func v3Content(g *generator, types []string, t reflect.Type) map[string]*spec3.MediaType {
	s := simple("string", "")
	if t != nil {
		s = spec.Schema{SchemaProps: spec.SchemaProps{Ref: g.ref(g.define(t))}}
	}
	out := map[string]*spec3.MediaType{}
	for _, mt := range types {
		schemaCopy := s
		out[mt] = &spec3.MediaType{MediaTypeProps: spec3.MediaTypeProps{Schema: &schemaCopy}}
	}
	return out
}
