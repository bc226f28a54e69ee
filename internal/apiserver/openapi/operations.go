package openapi

import (
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// param is one operation parameter.
type param struct {
	name, in, description string
	typ                   string // string, boolean or integer
	required              bool
}

// body kinds of an operation's request.
const (
	bodyNone   = iota
	bodyObject // the operation's own type
	bodyPatch  // a patch document, any of the patch content types
	bodyDelete // DeleteOptions
)

// operation is one HTTP operation, independent of the document flavour.
type operation struct {
	path, method string
	id           string
	description  string
	action       string // x-kubernetes-action
	gvk          schema.GroupVersionKind
	tag          string
	pathParams   []param
	query        []param
	body         int
	bodyType     reflect.Type // for bodyObject
	response     reflect.Type // nil for a plain string (logs)
	codes        []int        // success codes
	watch        bool         // streams watch events
}

var (
	typeStatus          = reflect.TypeOf(metav1.Status{})
	typeDeleteOptions   = reflect.TypeOf(metav1.DeleteOptions{})
	typeWatchEvent      = reflect.TypeOf(metav1.WatchEvent{})
	typePatch           = reflect.TypeOf(metav1.Patch{})
	typeAPIResourceList = reflect.TypeOf(metav1.APIResourceList{})
)

// patchContentTypes are the patch bodies the apiserver accepts.
var patchContentTypes = []string{
	"application/apply-patch+yaml",
	"application/json-patch+json",
	"application/merge-patch+json",
	"application/strategic-merge-patch+json",
}

// subresourceOptions are the query parameter structs of connect-style
// subresources, by subresource name.
var subresourceOptions = map[string]reflect.Type{
	"log":    reflect.TypeOf(corev1.PodLogOptions{}),
	"exec":   reflect.TypeOf(corev1.PodExecOptions{}),
	"attach": reflect.TypeOf(corev1.PodAttachOptions{}),
}

// Query parameters; descriptions come from the option types' own docs.
func queryParams(t reflect.Type, names ...string) []param {
	doc := swaggerDoc(t)
	out := make([]param, 0, len(names))
	for _, n := range names {
		out = append(out, param{name: n, in: "query", description: doc[n], typ: paramType(t, n)})
	}
	return out
}

// paramType is the OpenAPI type of the field of t named by json name n.
func paramType(t reflect.Type, n string) string {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if name, _ := parseJSONTag(f.Tag.Get("json")); name == n {
			ft := f.Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			switch ft.Kind() {
			case reflect.Bool:
				return "boolean"
			case reflect.Int, reflect.Int32, reflect.Int64:
				return "integer"
			}
		}
	}
	return "string"
}

// optionParams turns every field of an options struct into a query
// parameter.
func optionParams(t reflect.Type) []param {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _ := parseJSONTag(f.Tag.Get("json"))
		if f.Anonymous || name == "" || name == "-" {
			continue
		}
		names = append(names, name)
	}
	return queryParams(t, names...)
}

var (
	listParams = queryParams(reflect.TypeOf(metav1.ListOptions{}),
		"allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit",
		"resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch")
	deleteCollectionListParams = queryParams(reflect.TypeOf(metav1.ListOptions{}),
		"continue", "fieldSelector", "labelSelector", "limit",
		"resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds")
	createParams = queryParams(reflect.TypeOf(metav1.CreateOptions{}), "dryRun", "fieldManager", "fieldValidation")
	updateParams = queryParams(reflect.TypeOf(metav1.UpdateOptions{}), "dryRun", "fieldManager", "fieldValidation")
	patchParams  = queryParams(reflect.TypeOf(metav1.PatchOptions{}), "dryRun", "fieldManager", "fieldValidation", "force")
	deleteParams = queryParams(typeDeleteOptions,
		"dryRun", "gracePeriodSeconds", "ignoreStoreReadErrorWithClusterBreakingPotential",
		"orphanDependents", "propagationPolicy")
	prettyParam = param{name: "pretty", in: "query", typ: "string",
		description: "If 'true', the output is pretty printed."}
)

func pathParam(name, what string) param {
	return param{name: name, in: "path", typ: "string", required: true, description: what}
}

// namer builds upstream-style operation ids: verb + group + version +
// [Namespaced] + kind + suffix, e.g. patchBatchV1NamespacedJobStatus.
type namer struct{ group, version string }

func newNamer(gv schema.GroupVersion) namer {
	g := gv.Group
	if g == "" {
		g = "core"
	}
	g = strings.TrimSuffix(g, ".k8s.io")
	var b strings.Builder
	for _, part := range strings.FieldsFunc(g, func(r rune) bool { return r == '.' || r == '-' }) {
		b.WriteString(upperFirst(part))
	}
	return namer{group: b.String(), version: upperFirst(gv.Version)}
}

func (n namer) id(verb string, namespaced bool, kind, suffix string) string {
	ns := ""
	if namespaced {
		ns = "Namespaced"
	}
	return verb + n.group + n.version + ns + kind + suffix
}

// tag is the operation tag upstream uses: batch_v1, core_v1,
// coordination_v1.
func tag(gv schema.GroupVersion) string {
	g := gv.Group
	if g == "" {
		g = "core"
	}
	g = strings.TrimSuffix(g, ".k8s.io")
	g = strings.NewReplacer(".", "_", "-", "_").Replace(g)
	return g + "_" + gv.Version
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
