package discovery

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	"github.com/batchlet/batchlet/internal/registry/registrytest"
)

func newClient(t *testing.T, legacy bool) *discovery.DiscoveryClient {
	t.Helper()
	srv := httptest.NewServer(New(registrytest.Resources()))
	t.Cleanup(srv.Close)
	c, err := discovery.NewDiscoveryClientForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatalf("discovery client: %v", err)
	}
	c.UseLegacyDiscovery = legacy
	return c
}

func TestClientGoServerGroupsAndResources(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(map[bool]string{false: "aggregated", true: "legacy"}[legacy], func(t *testing.T) {
			c := newClient(t, legacy)
			groups, lists, err := c.ServerGroupsAndResources()
			if err != nil {
				t.Fatalf("ServerGroupsAndResources: %v", err)
			}
			var names []string
			for _, g := range groups {
				names = append(names, g.Name)
			}
			if want := []string{"", "batch", "coordination.k8s.io"}; !reflect.DeepEqual(names, want) {
				t.Errorf("groups = %q, want %q", names, want)
			}
			byGV := map[string]map[string]metav1.APIResource{}
			for _, l := range lists {
				m := map[string]metav1.APIResource{}
				for _, r := range l.APIResources {
					m[r.Name] = r
				}
				byGV[l.GroupVersion] = m
			}
			job := byGV["batch/v1"]["jobs"]
			if job.Kind != "Job" || !job.Namespaced || job.SingularName != "job" ||
				!reflect.DeepEqual(job.Categories, []string{"all"}) || len(job.Verbs) != 8 {
				t.Errorf("jobs = %+v", job)
			}
			if cj := byGV["batch/v1"]["cronjobs"]; !reflect.DeepEqual(cj.ShortNames, []string{"cj"}) {
				t.Errorf("cronjobs short names = %q", cj.ShortNames)
			}
			if st := byGV["batch/v1"]["jobs/status"]; st.Kind != "Job" || !reflect.DeepEqual([]string(st.Verbs), statusVerbs) {
				t.Errorf("jobs/status = %+v", st)
			}
			ev := byGV["v1"]["pods/eviction"]
			if ev.Group != "policy" || ev.Version != "v1" || ev.Kind != "Eviction" || !reflect.DeepEqual([]string(ev.Verbs), []string{"create"}) {
				t.Errorf("pods/eviction = %+v", ev)
			}
			if ns := byGV["v1"]["namespaces"]; ns.Namespaced || ns.Kind != "Namespace" || len(ns.Verbs) != 7 {
				t.Errorf("namespaces = %+v", ns)
			}
			if _, ok := byGV["coordination.k8s.io/v1"]["leases"]; !ok {
				t.Errorf("leases missing: %v", byGV)
			}
		})
	}
}

func TestClientGoServerPreferredResources(t *testing.T) {
	c := newClient(t, false)
	lists, err := c.ServerPreferredResources()
	if err != nil {
		t.Fatalf("ServerPreferredResources: %v", err)
	}
	found := false
	for _, l := range lists {
		for _, r := range l.APIResources {
			if l.GroupVersion == "batch/v1" && r.Name == "jobs" {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("batch/v1 jobs not among preferred resources")
	}
}

func get(t *testing.T, h http.Handler, path, accept string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// kubectlAccept is the Accept header kubectl sends to /api and /apis.
const kubectlAccept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList," +
	"application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"

func TestAggregatedShapes(t *testing.T) {
	h := New(registrytest.Resources())
	rec := get(t, h, "/api", kubectlAccept)
	if got, want := rec.Header().Get("Content-Type"), aggregatedContentType("v2"); got != want {
		t.Fatalf("Content-Type = %q, want %q", got, want)
	}
	var list apidiscoveryv2.APIGroupDiscoveryList
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if list.Kind != "APIGroupDiscoveryList" || list.APIVersion != "apidiscovery.k8s.io/v2" || len(list.Items) != 1 {
		t.Fatalf("list = %+v", list.TypeMeta)
	}
	var pods apidiscoveryv2.APIResourceDiscovery
	for _, r := range list.Items[0].Versions[0].Resources {
		if r.Resource == "pods" {
			pods = r
		}
	}
	if pods.Scope != apidiscoveryv2.ScopeNamespace || pods.SingularResource != "pod" ||
		*pods.ResponseKind != (metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}) {
		t.Errorf("pods = %+v", pods)
	}
	var subs []string
	for _, s := range pods.Subresources {
		subs = append(subs, s.Subresource)
		if s.Subresource == "eviction" && *s.ResponseKind != (metav1.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}) {
			t.Errorf("eviction responseKind = %+v", s.ResponseKind)
		}
	}
	if want := []string{"binding", "eviction", "log", "status"}; !reflect.DeepEqual(subs, want) {
		t.Errorf("pod subresources = %q, want %q", subs, want)
	}

	rec = get(t, h, "/apis", kubectlAccept)
	etag := rec.Header().Get("ETag")
	if etag == "" || rec.Header().Get("Cache-Control") != "public" {
		t.Errorf("headers = %v", rec.Header())
	}
	var raw map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatalf("decode: %v", err)
	}
	items := raw["items"].([]any)
	first := items[0].(map[string]any)
	if first["metadata"].(map[string]any)["name"] != "batch" {
		t.Errorf("first group = %v", first["metadata"])
	}
	if code := get(t, h, "/apis", kubectlAccept, "If-None-Match", etag).Code; code != http.StatusNotModified {
		t.Errorf("If-None-Match: code %d, want 304", code)
	}
}

func TestNegotiation(t *testing.T) {
	h := New(registrytest.Resources())
	tests := []struct {
		accept, wantType, wantKind string
	}{
		{kubectlAccept, aggregatedContentType("v2"), "APIGroupDiscoveryList"},
		{"application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json", aggregatedContentType("v2beta1"), "APIGroupDiscoveryList"},
		{"application/json", "application/json", "APIGroupList"},
		{"", "application/json", "APIGroupList"},
		{"application/vnd.kubernetes.protobuf, */*", "application/json", "APIGroupList"},
		{"application/json;q=0.5,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0.9", aggregatedContentType("v2"), "APIGroupDiscoveryList"},
	}
	for _, tt := range tests {
		rec := get(t, h, "/apis", tt.accept)
		var meta metav1.TypeMeta
		if err := json.Unmarshal(rec.Body.Bytes(), &meta); err != nil {
			t.Fatalf("%q: %v", tt.accept, err)
		}
		if got := rec.Header().Get("Content-Type"); got != tt.wantType || meta.Kind != tt.wantKind {
			t.Errorf("Accept %q: Content-Type %q kind %q, want %q %q", tt.accept, got, meta.Kind, tt.wantType, tt.wantKind)
		}
	}
}

func TestLegacyDocuments(t *testing.T) {
	h := New(registrytest.Resources())
	var versions metav1.APIVersions
	rec := get(t, h, "/api", "application/json")
	if err := json.Unmarshal(rec.Body.Bytes(), &versions); err != nil {
		t.Fatal(err)
	}
	if versions.Kind != "APIVersions" || !reflect.DeepEqual(versions.Versions, []string{"v1"}) ||
		len(versions.ServerAddressByClientCIDRs) != 1 {
		t.Errorf("/api = %+v", versions)
	}
	var g metav1.APIGroup
	if err := json.Unmarshal(get(t, h, "/apis/batch", "").Body.Bytes(), &g); err != nil {
		t.Fatal(err)
	}
	if g.Kind != "APIGroup" || g.PreferredVersion.GroupVersion != "batch/v1" {
		t.Errorf("/apis/batch = %+v", g)
	}
	for path, code := range map[string]int{
		"/apis/batch/v1": 200, "/apis/batch/v1/": 200, "/api/v1": 200,
		"/apis/batch/v2": 404, "/apis/nope": 404, "/api/v2": 404, "/apis/batch/v1/jobs": 404,
	} {
		if got := get(t, h, path, "").Code; got != code {
			t.Errorf("GET %s: %d, want %d", path, got, code)
		}
	}
	rec = get(t, h, "/apis/nope", "")
	var st metav1.Status
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Reason != metav1.StatusReasonNotFound {
		t.Errorf("404 body = %s (%v)", rec.Body, err)
	}
	req := httptest.NewRequest(http.MethodPost, "/apis", nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /apis: %d", rec.Code)
	}
}

func TestGroupOrder(t *testing.T) {
	gv := func(g string) schema.GroupVersion { return schema.GroupVersion{Group: g, Version: "v1"} }
	var rs = registrytest.Resources()
	for _, g := range []string{"zzz.example.com", "apps", "aaa.example.com", "events.k8s.io"} {
		rs = append(rs, rs[len(rs)-1])
		rs[len(rs)-1].GroupVersion = gv(g)
	}
	m := buildModel(rs)
	var names []string
	for _, g := range m.groups {
		names = append(names, g.name)
	}
	want := []string{"apps", "events.k8s.io", "batch", "coordination.k8s.io", "aaa.example.com", "zzz.example.com"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("order = %q, want %q", names, want)
	}
}
