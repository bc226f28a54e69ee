package openapi

import (
	"reflect"
	"sort"
	"sync"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/batchlet/batchlet/internal/registry/registrytest"
)

var (
	listsOnce  sync.Once
	testsLists listTypes
)

func testLists() listTypes {
	listsOnce.Do(func() { testsLists = loadListTypes() })
	return testsLists
}

func generate(t *testing.T, f flavor) map[string]*spec.Schema {
	t.Helper()
	m, err := newModel(registrytest.Resources(), testLists())
	if err != nil {
		t.Fatal(err)
	}
	return m.definitions(f, m.resources).defs
}

func TestDefinitionName(t *testing.T) {
	tests := map[reflect.Type]string{
		reflect.TypeOf(batchv1.Job{}):     "io.k8s.api.batch.v1.Job",
		reflect.TypeOf(corev1.PodSpec{}):  "io.k8s.api.core.v1.PodSpec",
		typeStatus:                        "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
		reflect.TypeOf(spec.Schema{}):     "io.k8s.kube-openapi.pkg.validation.spec.Schema",
		reflect.TypeOf(struct{ A int }{}): "",
	}
	for typ, want := range tests {
		if got := definitionName(typ); got != want {
			t.Errorf("definitionName(%v) = %q, want %q", typ, got, want)
		}
	}
}

func TestSchemas(t *testing.T) {
	defs := generate(t, v2)
	prop := func(def, field string) spec.Schema {
		t.Helper()
		d := defs[def]
		if d == nil {
			t.Fatalf("no definition %s", def)
		}
		p, ok := d.Properties[field]
		if !ok {
			t.Fatalf("%s has no property %s", def, field)
		}
		return p
	}
	ext := func(s spec.Schema, key string) any { return s.Extensions[key] }

	if p := prop("io.k8s.api.batch.v1.JobSpec", "completions"); p.Type[0] != "integer" || p.Format != "int32" || p.Description == "" {
		t.Errorf("completions = %+v", p)
	}
	if p := prop("io.k8s.api.batch.v1.JobSpec", "template"); p.Ref.String() != "#/definitions/io.k8s.api.core.v1.PodTemplateSpec" {
		t.Errorf("template ref = %q", p.Ref.String())
	}
	if p := prop("io.k8s.api.batch.v1.Job", "kind"); p.Type[0] != "string" {
		t.Errorf("inlined TypeMeta kind = %+v", p)
	}
	if time := defs["io.k8s.apimachinery.pkg.apis.meta.v1.Time"]; time.Type[0] != "string" || time.Format != "date-time" {
		t.Errorf("Time = %+v", time)
	}
	if q := defs["io.k8s.apimachinery.pkg.api.resource.Quantity"]; q.Type[0] != "string" || len(q.OneOf) != 0 {
		t.Errorf("v2 Quantity = %+v", q)
	}
	if ios := defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]; ios.Format != "int-or-string" || ext(*ios, "x-kubernetes-int-or-string") != true {
		t.Errorf("IntOrString = %+v", ios)
	}
	containers := prop("io.k8s.api.core.v1.PodSpec", "containers")
	if containers.Type[0] != "array" || containers.Items.Schema.Ref.String() != "#/definitions/io.k8s.api.core.v1.Container" ||
		ext(containers, "x-kubernetes-patch-strategy") != "merge" || ext(containers, "x-kubernetes-patch-merge-key") != "name" ||
		ext(containers, "x-kubernetes-list-type") != "map" || !reflect.DeepEqual(ext(containers, "x-kubernetes-list-map-keys"), []string{"name"}) {
		t.Errorf("containers = %+v", containers)
	}
	if c := prop("io.k8s.api.batch.v1.JobStatus", "conditions"); ext(c, "x-kubernetes-list-type") != "atomic" {
		t.Errorf("job conditions extensions = %v", c.Extensions)
	}
	if ls := defs["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"]; ext(*ls, "x-kubernetes-map-type") != "atomic" {
		t.Errorf("LabelSelector extensions = %v", ls.Extensions)
	}
	limits := prop("io.k8s.api.core.v1.ResourceRequirements", "limits")
	if limits.Type[0] != "object" || limits.AdditionalProperties.Schema.Ref.String() != "#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity" {
		t.Errorf("limits = %+v", limits)
	}
	if b := prop("io.k8s.api.core.v1.SecretVolumeSource", "defaultMode"); b.Format != "int32" {
		t.Errorf("defaultMode = %+v", b)
	}
	required := append([]string{}, defs["io.k8s.api.core.v1.Container"].Required...)
	sort.Strings(required)
	if !reflect.DeepEqual(required, []string{"name"}) {
		t.Errorf("Container required = %q", required)
	}
	if r := defs["io.k8s.api.batch.v1.JobSpec"].Required; !reflect.DeepEqual(r, []string{"template"}) {
		t.Errorf("JobSpec required = %q", r)
	}
	job := defs["io.k8s.api.batch.v1.Job"]
	want := []any{map[string]any{"group": "batch", "version": "v1", "kind": "Job"}}
	if got := ext(*job, "x-kubernetes-group-version-kind"); !reflect.DeepEqual(got, want) {
		t.Errorf("Job gvk = %v", got)
	}
	if job.Description == "" || defs["io.k8s.apimachinery.pkg.apis.meta.v1.Time"].Description == "" {
		t.Errorf("missing descriptions")
	}
	if ev := defs["io.k8s.api.policy.v1.Eviction"]; ev == nil || ext(*ev, "x-kubernetes-group-version-kind") == nil {
		t.Errorf("Eviction (a subresource kind) not described with its kind: %v", ev)
	}
}

func TestV3Schemas(t *testing.T) {
	defs := generate(t, v3)
	if q := defs["io.k8s.apimachinery.pkg.api.resource.Quantity"]; len(q.OneOf) != 2 || len(q.Type) != 0 {
		t.Errorf("v3 Quantity = %+v", q)
	}
	spec := defs["io.k8s.api.batch.v1.Job"].Properties["spec"]
	if len(spec.AllOf) != 1 || spec.AllOf[0].Ref.String() != "#/components/schemas/io.k8s.api.batch.v1.JobSpec" || spec.Description == "" {
		t.Errorf("v3 Job.spec = %+v", spec)
	}
}

func TestOperationIDs(t *testing.T) {
	m, err := newModel(registrytest.Resources(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]operation{}
	for _, gv := range m.gvs {
		for _, op := range operationsOf(gv, m.in(gv)) {
			if _, dup := ids[op.id]; dup {
				t.Errorf("duplicate operation id %s", op.id)
			}
			ids[op.id] = op
		}
	}
	for id, path := range map[string]string{
		"patchBatchV1NamespacedJob":          "/apis/batch/v1/namespaces/{namespace}/jobs/{name}",
		"replaceBatchV1NamespacedJobStatus":  "/apis/batch/v1/namespaces/{namespace}/jobs/{name}/status",
		"listBatchV1JobForAllNamespaces":     "/apis/batch/v1/jobs",
		"createCoreV1NamespacedPodEviction":  "/api/v1/namespaces/{namespace}/pods/{name}/eviction",
		"readCoreV1NamespacedPodLog":         "/api/v1/namespaces/{namespace}/pods/{name}/log",
		"listCoreV1Namespace":                "/api/v1/namespaces",
		"patchCoordinationV1NamespacedLease": "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}",
		"watchBatchV1NamespacedCronJobList":  "/apis/batch/v1/watch/namespaces/{namespace}/cronjobs",
		"getBatchV1APIResources":             "/apis/batch/v1/",
	} {
		if op, ok := ids[id]; !ok || op.path != path {
			t.Errorf("%s: path %q (present %v), want %q", id, op.path, ok, path)
		}
	}
	if _, ok := ids["deleteCollectionCoreV1Namespace"]; ok {
		t.Errorf("namespaces do not serve deletecollection")
	}
	if ev := ids["createCoreV1NamespacedPodEviction"]; ev.gvk.Group != "policy" || ev.gvk.Kind != "Eviction" {
		t.Errorf("eviction gvk = %v", ev.gvk)
	}
}

// recursive types must end; they are not in k8s.io/api but nothing may
// loop on any input.
type recursiveMap map[string]recursiveMap

type withRecursion struct {
	M    recursiveMap      `json:"m"`
	Self *withRecursion    `json:"self,omitempty"`
	Anon struct{ X int64 } `json:"anon"`
	Any  interface{}       `json:"any,omitempty"`
	Skip string            `json:"-"`
}

func TestRecursiveTypesEnd(t *testing.T) {
	g := newGenerator(v2, nil, nil)
	name := g.define(reflect.TypeOf(withRecursion{}))
	d := g.defs[name]
	self := d.Properties["self"]
	if self.Ref.String() != "#/definitions/"+name {
		t.Errorf("self = %+v", d.Properties["self"])
	}
	if d.Properties["m"].Type[0] != "object" || d.Properties["anon"].Properties["X"].Format != "int64" {
		t.Errorf("properties = %+v", d.Properties)
	}
	if _, ok := d.Properties["Skip"]; ok {
		t.Errorf("json:\"-\" field documented")
	}
	if !reflect.DeepEqual(d.Required, []string{"anon", "m"}) {
		t.Errorf("required = %q", d.Required)
	}
}
