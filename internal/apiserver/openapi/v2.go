package openapi

import (
	"net/http"
	"reflect"

	"k8s.io/kube-openapi/pkg/validation/spec"
)

// v2Document is the Swagger 2.0 document of everything served.
func (m *model) v2Document(title, version string) *spec.Swagger {
	g := m.definitions(v2, m.resources)
	doc := &spec.Swagger{SwaggerProps: spec.SwaggerProps{
		Swagger: "2.0",
		Info:    &spec.Info{InfoProps: spec.InfoProps{Title: title, Version: version}},
		Paths:   &spec.Paths{Paths: map[string]spec.PathItem{}},
		SecurityDefinitions: spec.SecurityDefinitions{"BearerToken": &spec.SecurityScheme{SecuritySchemeProps: spec.SecuritySchemeProps{
			Type: "apiKey", Name: "authorization", In: "header", Description: "Bearer Token authentication",
		}}},
		Security: []map[string][]string{{"BearerToken": {}}},
	}}
	for _, gv := range m.gvs {
		for _, op := range operationsOf(gv, m.in(gv)) {
			item, ok := doc.Paths.Paths[op.path]
			if !ok {
				for _, p := range op.pathParams {
					item.Parameters = append(item.Parameters, v2Param(p))
				}
				item.Parameters = append(item.Parameters, v2Param(prettyParam))
			}
			o := v2Operation(g, op)
			switch op.method {
			case "get":
				item.Get = o
			case "post":
				item.Post = o
			case "put":
				item.Put = o
			case "patch":
				item.Patch = o
			case "delete":
				item.Delete = o
			}
			doc.Paths.Paths[op.path] = item
		}
	}
	doc.Definitions = spec.Definitions{}
	for name, s := range g.defs {
		doc.Definitions[name] = *s
	}
	return doc
}

func v2Param(p param) spec.Parameter {
	out := spec.Parameter{ParamProps: spec.ParamProps{
		Name: p.name, In: p.in, Description: p.description, Required: p.required,
	}}
	out.Type = p.typ
	if p.in == "query" {
		out.UniqueItems = true
	}
	return out
}

func v2Body(g *generator, t reflect.Type, required bool) spec.Parameter {
	s := spec.Schema{SchemaProps: spec.SchemaProps{Ref: g.ref(g.define(t))}}
	return spec.Parameter{ParamProps: spec.ParamProps{Name: "body", In: "body", Required: required, Schema: &s}}
}

func v2Operation(g *generator, op operation) *spec.Operation {
	o := &spec.Operation{OperationProps: spec.OperationProps{
		Tags: []string{op.tag}, Description: op.description, ID: op.id,
		Consumes: []string{"*/*"}, Schemes: []string{"https"},
		Responses: &spec.Responses{ResponsesProps: spec.ResponsesProps{StatusCodeResponses: map[int]spec.Response{}}},
	}}
	for _, p := range op.query {
		o.Parameters = append(o.Parameters, v2Param(p))
	}
	switch op.body {
	case bodyObject:
		if op.bodyType != nil {
			o.Parameters = append(o.Parameters, v2Body(g, op.bodyType, true))
		}
	case bodyPatch:
		o.Consumes = patchContentTypes
		o.Parameters = append(o.Parameters, v2Body(g, typePatch, true))
	case bodyDelete:
		o.Parameters = append(o.Parameters, v2Body(g, typeDeleteOptions, false))
	}
	o.Produces = objectMediaTypes
	switch {
	case op.watch || op.action == "list":
		o.Produces = watchMediaTypes
	case op.response == nil:
		o.Produces = textMediaTypes
	}
	var schema *spec.Schema
	if op.response != nil {
		schema = &spec.Schema{SchemaProps: spec.SchemaProps{Ref: g.ref(g.define(op.response))}}
	} else {
		s := simple("string", "")
		schema = &s
	}
	for _, code := range op.codes {
		o.Responses.StatusCodeResponses[code] = spec.Response{ResponseProps: spec.ResponseProps{
			Description: http.StatusText(code), Schema: schema,
		}}
	}
	o.Responses.StatusCodeResponses[http.StatusUnauthorized] = spec.Response{ResponseProps: spec.ResponseProps{
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
