package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/util/proto"
	explainv2 "k8s.io/kubectl/pkg/explain/v2"

	"github.com/batchlet/batchlet/internal/registry/registrytest"
)

func newHandler(t *testing.T) *Handler {
	t.Helper()
	h, err := New(registrytest.Resources())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.Wait(ctx); err != nil {
		t.Fatalf("documents not built: %v", err)
	}
	return h
}

func newClient(t *testing.T) *discovery.DiscoveryClient {
	t.Helper()
	srv := httptest.NewServer(newHandler(t))
	t.Cleanup(srv.Close)
	c, err := discovery.NewDiscoveryClientForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatalf("discovery client: %v", err)
	}
	return c
}

func TestClientGoOpenAPIV3(t *testing.T) {
	c := newClient(t)
	paths, err := c.OpenAPIV3().Paths()
	if err != nil {
		t.Fatalf("Paths: %v", err)
	}
	for _, want := range []string{"api/v1", "apis/batch/v1", "apis/coordination.k8s.io/v1"} {
		if _, ok := paths[want]; !ok {
			t.Errorf("root lacks %q: %v", want, paths)
		}
	}
	b, err := paths["apis/batch/v1"].Schema("application/json")
	if err != nil {
		t.Fatalf("batch/v1 schema: %v", err)
	}
	var doc spec3.OpenAPI
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("parse batch/v1 document: %v", err)
	}
	job := doc.Components.Schemas["io.k8s.api.batch.v1.Job"]
	if job == nil {
		t.Fatalf("no Job schema")
	}
	if _, ok := job.Properties["spec"]; !ok {
		t.Errorf("Job schema has no spec: %v", job.Properties)
	}
	if _, ok := doc.Components.Schemas["io.k8s.api.core.v1.PodSpec"]; !ok {
		t.Errorf("PodSpec not reachable from Job")
	}
	if _, ok := doc.Components.Schemas["io.k8s.api.core.v1.Pod"]; ok {
		t.Errorf("core Pod leaked into the batch/v1 document")
	}
	if doc.Paths.Paths["/apis/batch/v1/namespaces/{namespace}/jobs/{name}/status"] == nil {
		t.Errorf("no jobs/status path")
	}
}

func TestFieldValidationSupported(t *testing.T) {
	c := newClient(t)
	v := resource.NewQueryParamVerifierV3(nil, c.OpenAPIV3(), resource.QueryParamFieldValidation)
	for _, kind := range []string{"Job", "CronJob"} {
		if err := v.HasSupport(batchv1.SchemeGroupVersion.WithKind(kind)); err != nil {
			t.Errorf("%s: fieldValidation not supported: %v", kind, err)
		}
	}
	for _, gvk := range []string{"Pod", "Namespace"} {
		if err := v.HasSupport(corev1.SchemeGroupVersion.WithKind(gvk)); err != nil {
			t.Errorf("%s: fieldValidation not supported: %v", gvk, err)
		}
	}
}

func TestExplainJobSpecCompletions(t *testing.T) {
	c := newClient(t)
	var out bytes.Buffer
	gvr := batchv1.SchemeGroupVersion.WithResource("jobs")
	if err := explainv2.PrintModelDescription([]string{"spec", "completions"}, &out, c.OpenAPIV3(), gvr, false, "plaintext"); err != nil {
		t.Fatalf("explain: %v", err)
	}
	text := out.String()
	for _, want := range []string{"GROUP:      batch", "KIND:       Job", "FIELD: completions <integer>", "Specifies the desired number of successfully finished pods"} {
		if !strings.Contains(text, want) {
			t.Errorf("explain output lacks %q:\n%s", want, text)
		}
	}
	out.Reset()
	if err := explainv2.PrintModelDescription(nil, &out, c.OpenAPIV3(), gvr, false, "plaintext"); err != nil {
		t.Fatalf("explain job: %v", err)
	}
	if !strings.Contains(out.String(), "metadata\t<ObjectMeta>") || !strings.Contains(out.String(), "spec\t<JobSpec>") {
		t.Errorf("explain job fields:\n%s", out.String())
	}
	out.Reset()
	gvr = corev1.SchemeGroupVersion.WithResource("pods")
	if err := explainv2.PrintModelDescription([]string{"spec", "containers", "resources", "limits"}, &out, c.OpenAPIV3(), gvr, false, "plaintext"); err != nil {
		t.Fatalf("explain pod: %v", err)
	}
	if !strings.Contains(out.String(), "FIELD: limits <map[string]Quantity>") {
		t.Errorf("explain pod.spec.containers.resources.limits:\n%s", out.String())
	}
}

func TestV2Protobuf(t *testing.T) {
	c := newClient(t)
	doc, err := c.OpenAPISchema() // asks for protobuf
	if err != nil {
		t.Fatalf("OpenAPISchema: %v", err)
	}
	models, err := proto.NewOpenAPIData(doc)
	if err != nil {
		t.Fatalf("kubectl's model parser rejects the document: %v", err)
	}
	job := models.LookupModel("io.k8s.api.batch.v1.Job")
	if job == nil {
		t.Fatalf("no Job model among %d", len(models.ListModels()))
	}
	kind, ok := job.(*proto.Kind)
	if !ok {
		t.Fatalf("Job model is %T", job)
	}
	if _, ok := kind.Fields["spec"]; !ok {
		t.Errorf("Job model fields: %v", kind.Keys())
	}
	var sawJobPatch bool
	for _, p := range doc.Paths.Path {
		if p.Name == "/apis/batch/v1/namespaces/{namespace}/jobs/{name}" && p.Value.Patch != nil {
			sawJobPatch = true
		}
	}
	if !sawJobPatch {
		t.Errorf("no jobs PATCH operation in v2")
	}
}

func serve(h http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHTTPBehaviour(t *testing.T) {
	h := newHandler(t)
	var root struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(serve(h, "GET", "/openapi/v3").Body.Bytes(), &root); err != nil {
		t.Fatal(err)
	}
	url := root.Paths["apis/batch/v1"].ServerRelativeURL
	if !strings.HasPrefix(url, "/openapi/v3/apis/batch/v1?hash=") {
		t.Fatalf("serverRelativeURL = %q", url)
	}
	rec := serve(h, "GET", url)
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "public, immutable" || rec.Header().Get("ETag") == "" {
		t.Errorf("hashed GET: %d %v", rec.Code, rec.Header())
	}
	if got := serve(h, "GET", url, "If-None-Match", rec.Header().Get("ETag")).Code; got != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", got)
	}
	stale := serve(h, "GET", "/openapi/v3/apis/batch/v1?hash=0123")
	if stale.Code != http.StatusMovedPermanently || stale.Header().Get("Location") != url {
		t.Errorf("stale hash: %d Location %q", stale.Code, stale.Header().Get("Location"))
	}
	if got := serve(h, "GET", "/openapi/v3/apis/batch/v1").Header().Get("Cache-Control"); got == "public, immutable" {
		t.Errorf("unhashed URL cached as immutable")
	}
	for target, code := range map[string]int{"/openapi/v3/apis/nope/v1": 404, "/openapi/v4": 404, "/openapi/v2": 200} {
		if got := serve(h, "GET", target).Code; got != code {
			t.Errorf("GET %s: %d, want %d", target, got, code)
		}
	}
	if got := serve(h, "GET", "/openapi/v2", "Accept", mimeV2Protobuf).Header().Get("Content-Type"); got != mimeV2Protobuf {
		t.Errorf("v2 protobuf Content-Type = %q", got)
	}
	if got := serve(h, "GET", url, "Accept", mimeV3Protobuf); got.Code != 200 || got.Header().Get("Content-Type") != mimeV3Protobuf {
		t.Errorf("v3 protobuf: %d %q", got.Code, got.Header().Get("Content-Type"))
	}
	if got := serve(h, "PUT", "/openapi/v2").Code; got != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d", got)
	}
}

func TestNewRejectsUndescribableResource(t *testing.T) {
	rs := registrytest.Resources()
	rs[0].New = nil
	rs[0].Kind = "NoSuchKind"
	if _, err := New(rs); err == nil {
		t.Errorf("New accepted a kind with no Go type")
	}
}

// TestDocumentsBuiltOnFirstRequest: New leaves the build to the first
// request, so a server that is never asked for OpenAPI never pays for it.
func TestDocumentsBuiltOnFirstRequest(t *testing.T) {
	h, err := New(registrytest.Resources())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	select {
	case <-h.ready:
		t.Fatal("documents were built before any request")
	default:
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi/v3", nil))
	if rec.Code != http.StatusOK || h.docs == nil {
		t.Fatalf("first request: status %d, documents built: %v", rec.Code, h.docs != nil)
	}
}
