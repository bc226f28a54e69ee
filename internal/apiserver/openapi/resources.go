package openapi

import (
	"fmt"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/batchlet/batchlet/internal/registry"
)

var defaultVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// served is a resource with the Go types of its objects resolved.
type served struct {
	registry.Resource
	typ, listTyp reflect.Type
	verbs        map[string]bool
	subs         []servedSub
}

// servedSub is a subresource; typ is nil when its kind has no Go type.
type servedSub struct {
	name  string
	kind  schema.GroupVersionKind
	typ   reflect.Type
	verbs []string
}

// resolve finds the Go types of a resource and its subresources.
func resolve(r registry.Resource) (served, error) {
	s := served{Resource: r, verbs: map[string]bool{}}
	if r.Plural == "" || r.Kind == "" || r.GroupVersion.Version == "" {
		return s, fmt.Errorf("resource %q: plural, kind and version are required", r.GroupVersionResource())
	}
	var err error
	if s.typ, err = goType(r.New, r.GroupVersionKind()); err != nil {
		return s, fmt.Errorf("resource %s: %w", r.GroupVersionResource(), err)
	}
	listKind := r.ListKind
	if listKind == "" {
		listKind = r.Kind + "List"
	}
	if s.listTyp, err = goType(r.NewList, r.GroupVersion.WithKind(listKind)); err != nil {
		return s, fmt.Errorf("resource %s: %w", r.GroupVersionResource(), err)
	}
	verbs := r.Verbs
	if verbs == nil {
		verbs = defaultVerbs
	}
	for _, v := range verbs {
		s.verbs[v] = true
	}
	if r.Status != nil {
		s.subs = append(s.subs, servedSub{name: "status", kind: r.GroupVersionKind(), typ: s.typ,
			verbs: []string{"get", "patch", "update"}})
	}
	for _, sub := range r.Subresources {
		if sub.Name == "" || (sub.Name == "status" && r.Status != nil) {
			continue
		}
		kind := sub.Kind
		if kind.Kind == "" {
			kind = r.GroupVersionKind()
		}
		// A kind without a Go type is listed without a schema.
		typ, _ := goType(nil, kind)
		s.subs = append(s.subs, servedSub{name: sub.Name, kind: kind, typ: typ, verbs: sub.Verbs})
	}
	return s, nil
}

// goType returns the struct type made by newFn, or registered in client-go's
// scheme under gvk.
func goType(newFn func() runtime.Object, gvk schema.GroupVersionKind) (reflect.Type, error) {
	var obj runtime.Object
	if newFn != nil {
		obj = newFn()
	}
	if obj == nil {
		var err error
		if obj, err = scheme.Scheme.New(gvk); err != nil {
			return nil, fmt.Errorf("no Go type for %s: %w", gvk, err)
		}
	}
	t := reflect.TypeOf(obj)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%s: %s is not a struct", gvk, t)
	}
	return t, nil
}

// prefix is the URL prefix of a group version: /api/v1 or /apis/<g>/<v>.
func prefix(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "/api/" + gv.Version
	}
	return "/apis/" + gv.Group + "/" + gv.Version
}

// operations lists the HTTP operations of a resource, as upstream
// documents them.
func (s served) operations() []operation {
	gv := s.GroupVersion
	n := newNamer(gv)
	kind := s.Kind
	ns := s.Namespaced
	base := prefix(gv)
	collection := base + "/" + s.Plural
	watchCollection := base + "/watch/" + s.Plural
	var scope []param
	if ns {
		collection = base + "/namespaces/{namespace}/" + s.Plural
		watchCollection = base + "/watch/namespaces/{namespace}/" + s.Plural
		scope = []param{pathParam("namespace", "object name and auth scope, such as for teams and projects")}
	}
	named := append(append([]param{}, scope...), pathParam("name", "name of the "+kind))
	item := collection + "/{name}"
	op := func(o operation) operation {
		o.gvk = s.GroupVersionKind()
		o.tag = tag(gv)
		if o.action == "" {
			o.action = o.method
		}
		return o
	}

	var ops []operation
	if s.verbs["list"] {
		ops = append(ops, op(operation{path: collection, method: "get", action: "list", pathParams: scope,
			id: n.id("list", ns, kind, ""), description: "list or watch objects of kind " + kind,
			query: listParams, response: s.listTyp, codes: []int{200}}))
		if ns {
			ops = append(ops, op(operation{path: base + "/" + s.Plural, method: "get", action: "list",
				id: n.id("list", false, kind, "ForAllNamespaces"), description: "list or watch objects of kind " + kind,
				query: listParams, response: s.listTyp, codes: []int{200}}))
		}
	}
	if s.verbs["create"] {
		ops = append(ops, op(operation{path: collection, method: "post", action: "post", pathParams: scope,
			id: n.id("create", ns, kind, ""), description: "create " + article(kind) + " " + kind,
			query: createParams, body: bodyObject, bodyType: s.typ, response: s.typ, codes: []int{200, 201, 202}}))
	}
	if s.verbs["deletecollection"] {
		ops = append(ops, op(operation{path: collection, method: "delete", action: "deletecollection", pathParams: scope,
			id: n.id("deleteCollection", ns, kind, ""), description: "delete collection of " + kind,
			query: append(append([]param{}, deleteParams...), deleteCollectionListParams...),
			body:  bodyDelete, response: typeStatus, codes: []int{200}}))
	}
	if s.verbs["get"] {
		ops = append(ops, op(operation{path: item, method: "get", action: "get", pathParams: named,
			id: n.id("read", ns, kind, ""), description: "read the specified " + kind,
			response: s.typ, codes: []int{200}}))
	}
	if s.verbs["update"] {
		ops = append(ops, op(operation{path: item, method: "put", action: "put", pathParams: named,
			id: n.id("replace", ns, kind, ""), description: "replace the specified " + kind,
			query: updateParams, body: bodyObject, bodyType: s.typ, response: s.typ, codes: []int{200, 201}}))
	}
	if s.verbs["patch"] {
		ops = append(ops, op(operation{path: item, method: "patch", action: "patch", pathParams: named,
			id: n.id("patch", ns, kind, ""), description: "partially update the specified " + kind,
			query: patchParams, body: bodyPatch, response: s.typ, codes: []int{200, 201}}))
	}
	if s.verbs["delete"] {
		ops = append(ops, op(operation{path: item, method: "delete", action: "delete", pathParams: named,
			id: n.id("delete", ns, kind, ""), description: "delete " + article(kind) + " " + kind,
			query: deleteParams, body: bodyDelete, response: typeStatus, codes: []int{200, 202}}))
	}
	if s.verbs["watch"] {
		ops = append(ops,
			op(operation{path: watchCollection + "/{name}", method: "get", action: "watch", pathParams: named,
				id: n.id("watch", ns, kind, ""), watch: true, query: listParams, response: typeWatchEvent, codes: []int{200},
				description: "watch changes to an object of kind " + kind + ". deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter."}),
			op(operation{path: watchCollection, method: "get", action: "watchlist", pathParams: scope,
				id: n.id("watch", ns, kind, "List"), watch: true, query: listParams, response: typeWatchEvent, codes: []int{200},
				description: "watch individual changes to a list of " + kind + ". deprecated: use the 'watch' parameter with a list operation instead."}))
		if ns {
			ops = append(ops, op(operation{path: base + "/watch/" + s.Plural, method: "get", action: "watchlist",
				id: n.id("watch", false, kind, "ListForAllNamespaces"), watch: true, query: listParams, response: typeWatchEvent, codes: []int{200},
				description: "watch individual changes to a list of " + kind + ". deprecated: use the 'watch' parameter with a list operation instead."}))
		}
	}
	for _, sub := range s.subs {
		ops = append(ops, s.subresourceOperations(sub, n, item+"/"+sub.name, named)...)
	}
	return ops
}

// subresourceOperations documents one subresource; its operations carry
// the subresource's kind.
func (s served) subresourceOperations(sub servedSub, n namer, path string, named []param) []operation {
	kind := s.Kind
	suffix := upperFirst(sub.name)
	var ops []operation
	add := func(o operation) {
		o.path, o.pathParams, o.tag = path, named, tag(s.GroupVersion)
		o.gvk = sub.kind
		ops = append(ops, o)
	}
	what := sub.name + " of"
	if sub.name == "status" {
		what = "status of"
	}
	for _, verb := range sub.verbs {
		switch verb {
		case "get":
			o := operation{method: "get", action: "get", id: n.id("read", s.Namespaced, kind, suffix),
				description: "read " + what + " the specified " + kind, response: sub.typ, codes: []int{200}}
			if opts, ok := subresourceOptions[sub.name]; ok {
				o.action, o.query = "connect", optionParams(opts)
				if sub.name != "log" {
					o.id = n.id("connectGet", s.Namespaced, kind, suffix)
					o.description = "connect GET requests to " + sub.name + " of " + kind
				}
				if sub.name == "log" {
					o.response = nil // the log is plain text
				}
			}
			add(o)
		case "create":
			o := operation{method: "post", action: "post", id: n.id("create", s.Namespaced, kind, suffix),
				description: "create " + sub.name + " of " + article(kind) + " " + kind, query: createParams,
				body: bodyObject, bodyType: sub.typ, response: sub.typ, codes: []int{200, 201, 202}}
			if opts, ok := subresourceOptions[sub.name]; ok {
				o.action, o.query, o.body = "connect", optionParams(opts), bodyNone
				o.id = n.id("connectPost", s.Namespaced, kind, suffix)
				o.description = "connect POST requests to " + sub.name + " of " + kind
				o.response = nil
			}
			add(o)
		case "update":
			add(operation{method: "put", action: "put", id: n.id("replace", s.Namespaced, kind, suffix),
				description: "replace " + what + " the specified " + kind, query: updateParams,
				body: bodyObject, bodyType: sub.typ, response: sub.typ, codes: []int{200, 201}})
		case "patch":
			add(operation{method: "patch", action: "patch", id: n.id("patch", s.Namespaced, kind, suffix),
				description: "partially update " + what + " the specified " + kind, query: patchParams,
				body: bodyPatch, response: sub.typ, codes: []int{200, 201}})
		}
	}
	return ops
}

// article is the indefinite article upstream uses before a kind.
func article(kind string) string {
	if kind != "" && strings.ContainsRune("AEIOU", rune(kind[0])) {
		return "an"
	}
	return "a"
}
