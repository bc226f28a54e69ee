package apiserver

import (
	"bytes"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/types"

	"github.com/batchlet/batchlet/internal/registry"
	"github.com/batchlet/batchlet/internal/registry/pod"
)

const (
	jobTracking = "batch.kubernetes.io/job-tracking"
	smpType     = string(types.StrategicMergePatchType)
	mergeType   = string(types.MergePatchType)
)

// finalizerCase is one patch sent to a pod created with finalizers.
type finalizerCase struct {
	name       string
	finalizers []string
	// deleting: the pod is deleted (with grace 0) before the patch, so
	// removing its last finalizer removes it.
	deleting    bool
	contentType string
	body        string
	query       string // extra query parameters of the patch
	path        string // "" or "/status"
	userAgent   *string
	fast        bool // the fast path takes the patch
}

func finalizerCases() []finalizerCase {
	del := func(values ...string) string {
		return `{"metadata":{"$deleteFromPrimitiveList/finalizers":[` + quoted(values) + `]}}`
	}
	set := func(values ...string) string {
		return `{"metadata":{"finalizers":[` + quoted(values) + `]}}`
	}
	noAgent := ""
	return []finalizerCase{
		{name: "absent", body: del(jobTracking), fast: true},
		{name: "present once", finalizers: []string{jobTracking}, body: del(jobTracking), fast: true},
		{name: "present twice", finalizers: []string{jobTracking, jobTracking}, body: del(jobTracking), fast: true},
		{name: "others around", finalizers: []string{"a.io/x", jobTracking, "b.io/y"}, body: del(jobTracking), fast: true},
		{name: "several values", finalizers: []string{"a.io/x", jobTracking, "b.io/y", "c.io/z", jobTracking}, body: del(jobTracking, "c.io/z", "d.io/none"), fast: true},
		{name: "all of several", finalizers: []string{"a.io/x", jobTracking}, body: del(jobTracking, "a.io/x"), fast: true},
		{name: "empty directive", finalizers: []string{"a.io/x", jobTracking}, body: del(), fast: true},
		{name: "empty directive, no finalizers", body: del(), fast: true},
		{name: "escaped value", finalizers: []string{jobTracking}, body: `{"metadata":{"$deleteFromPrimitiveList/finalizers":["batch.kubernetes.io\/job-tracking"]}}`, fast: true},
		{name: "duplicate metadata key", finalizers: []string{jobTracking}, body: `{"metadata":{"labels":{"a":"b"}},"metadata":{"$deleteFromPrimitiveList/finalizers":["` + jobTracking + `"]}}`, fast: true},
		{name: "dry run", finalizers: []string{jobTracking}, body: del(jobTracking), query: "&dryRun=All", fast: true},
		{name: "strict validation", finalizers: []string{jobTracking}, body: del(jobTracking), query: "&fieldValidation=Strict", fast: true},
		{name: "deleting pod", finalizers: []string{jobTracking}, deleting: true, body: del(jobTracking), fast: true},
		{name: "deleting pod keeps another", finalizers: []string{jobTracking, "a.io/x"}, deleting: true, body: del(jobTracking), fast: true},
		{name: "status", finalizers: []string{jobTracking}, body: del(jobTracking), path: "/status", fast: true},
		{name: "merge set", finalizers: []string{jobTracking}, contentType: mergeType, body: set("a.io/x", "a.io/x"), fast: true},
		{name: "merge set on none", contentType: mergeType, body: set(jobTracking), fast: true},
		{name: "merge set empty", finalizers: []string{jobTracking}, contentType: mergeType, body: set(), fast: true},
		{name: "merge set empty on none", contentType: mergeType, body: set(), fast: true},

		// The general path's.
		{name: "no field manager", finalizers: []string{jobTracking}, body: del(jobTracking), userAgent: &noAgent},
		{name: "extra metadata key", finalizers: []string{jobTracking}, body: `{"metadata":{"$deleteFromPrimitiveList/finalizers":["` + jobTracking + `"],"labels":{"a":"b"}}}`},
		{name: "extra top-level key", finalizers: []string{jobTracking}, body: `{"metadata":{"$deleteFromPrimitiveList/finalizers":["` + jobTracking + `"]},"spec":{}}`},
		{name: "set element order", finalizers: []string{"a.io/x", jobTracking, "b.io/y"}, body: `{"metadata":{"$setElementOrder/finalizers":["b.io/y","a.io/x"],"$deleteFromPrimitiveList/finalizers":["` + jobTracking + `"]}}`},
		{name: "non-string item", finalizers: []string{jobTracking}, body: `{"metadata":{"$deleteFromPrimitiveList/finalizers":[1]}}`},
		{name: "mixed items", finalizers: []string{jobTracking}, body: `{"metadata":{"$deleteFromPrimitiveList/finalizers":["` + jobTracking + `",null]}}`},
		{name: "null directive", finalizers: []string{jobTracking}, body: `{"metadata":{"$deleteFromPrimitiveList/finalizers":null}}`},
		{name: "null metadata", finalizers: []string{jobTracking}, body: `{"metadata":null}`},
		{name: "stale resourceVersion", finalizers: []string{jobTracking}, body: `{"metadata":{"$deleteFromPrimitiveList/finalizers":["` + jobTracking + `"],"resourceVersion":"1"}}`},
		{name: "strategic set", finalizers: []string{jobTracking}, body: set("a.io/x")},
		{name: "merge null", finalizers: []string{jobTracking}, contentType: mergeType, body: `{"metadata":{"finalizers":null}}`},
		{name: "merge directive", finalizers: []string{jobTracking}, contentType: mergeType, body: del(jobTracking)},
		{name: "json patch", finalizers: []string{jobTracking}, contentType: string(types.JSONPatchType), body: `[{"op":"remove","path":"/metadata/finalizers/0"}]`},
		{name: "bad json", finalizers: []string{jobTracking}, body: `{"metadata":{"$deleteFromPrimitiveList/finalizers":["x"]}`},
		{name: "trailing data", finalizers: []string{jobTracking}, body: del(jobTracking) + `{}`},
	}
}

func quoted(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = `"` + v + `"`
	}
	return strings.Join(q, ",")
}

// patchOutcome is what a client and the store see of one patch.
type patchOutcome struct {
	code     int
	body     []byte
	warnings []string
	stored   runtime.Object // nil when the pod is gone
}

// TestFinalizerPatchMatchesGeneralPath sends each patch to two servers
// holding the same pod, one with the fast path and one without, and
// requires the same answer and the same stored object, for the test pod
// kind and for the registry's.
func TestFinalizerPatchMatchesGeneralPath(t *testing.T) {
	kinds := map[string][]registry.Resource{
		"test kinds":    testResources(),
		"registry pods": {namespaceResource(), pod.Resource()},
	}
	for kind, resources := range kinds {
		for _, tc := range finalizerCases() {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				if tc.contentType == "" {
					tc.contentType = smpType
				}
				// The fast path is taken when the body parses and the
				// request qualifies; neither is visible in the outcome.
				_, parsed := parseFinalizerPatch(types.PatchType(tc.contentType), []byte(tc.body))
				if qualifies := tc.userAgent == nil; parsed && qualifies != tc.fast || !parsed && tc.fast {
					t.Fatalf("parsed %v, qualifies %v, want fast %v", parsed, qualifies, tc.fast)
				}
				fast, general := runFinalizerCase(t, tc, resources)
				if fast.code != general.code || !bytes.Equal(fast.body, general.body) {
					t.Errorf("answers differ:\nfast    %d %s\ngeneral %d %s", fast.code, fast.body, general.code, general.body)
				}
				if !slices.Equal(fast.warnings, general.warnings) {
					t.Errorf("warnings differ: fast %q, general %q", fast.warnings, general.warnings)
				}
				if !reflect.DeepEqual(fast.stored, general.stored) {
					t.Errorf("stored objects differ:\nfast    %#v\ngeneral %#v", fast.stored, general.stored)
				}
				if fast.stored != nil && general.stored != nil && !bytes.Equal(storedBytes(t, fast.stored), storedBytes(t, general.stored)) {
					t.Errorf("stored encodings differ")
				}
				if tc.fast && fast.code != http.StatusOK {
					t.Errorf("fast case answered %d %s", fast.code, fast.body)
				}
			})
		}
	}
}

// runFinalizerCase prepares the case's pod on two new servers, makes both
// stores hold the first one's pod as etcd would hand it out (a protobuf
// round trip), and sends the patch to both, with and without the fast
// path. The field manager stamps entries with the wall clock's second, so
// a pair of patches that straddles a second is sent again.
func runFinalizerCase(t *testing.T, tc finalizerCase, resources []registry.Resource) (fast, general patchOutcome) {
	t.Helper()
	for try := 0; ; try++ {
		envs := [2]*testEnv{}
		for i := range envs {
			envs[i] = newTestEnv(t, func(c *Config) { c.Resources = resources })
			preparePod(t, envs[i], tc)
		}
		key := StorageKey(podResource(), "default", "p")
		snapshot := envs[0].store.normalize(t, key)
		envs[1].store.put(key, snapshot)
		envs[1].api.generalPatchesOnly = true
		rq := &request{res: envs[0].api.lookup(schema.GroupVersion{Version: "v1"}, "pods"), namespace: "default", name: "p"}
		if !envs[0].api.typedPatchFastPath(rq, updateMain, "job-controller") || envs[1].api.typedPatchFastPath(rq, updateMain, "job-controller") {
			t.Fatal("the fast path is off on the first server or on on the second")
		}
		second := time.Now().Unix()
		fast, general = sendFinalizerPatch(t, envs[0], tc, key), sendFinalizerPatch(t, envs[1], tc, key)
		if time.Now().Unix() == second || try == 2 {
			return fast, general
		}
	}
}

const podsPath = "/api/v1/namespaces/default/pods"

// preparePod creates pod p with the case's finalizers, gives it a status
// (a second managedFields entry and times) and deletes it if asked.
func preparePod(t *testing.T, env *testEnv, tc finalizerCase) {
	t.Helper()
	p := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"batch.kubernetes.io/job-name": "pi"},
			Annotations: map[string]string{"note": "a<b&c"}, Finalizers: tc.finalizers},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "pi", Image: "perl", Command: []string{"/bin/true"},
				Env: []corev1.EnvVar{{Name: "A&B", Value: "1"}}}}},
	}
	body, err := runtime.Encode(unstructured.UnstructuredJSONScheme, mustUnstructured(t, p))
	if err != nil {
		t.Fatal(err)
	}
	if resp, data := env.do(t, http.MethodPost, podsPath+"?fieldManager=job-controller", "application/json", body); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, data)
	}
	if resp, data := env.do(t, http.MethodPut, podsPath+"/p/status?fieldManager=agent", "application/json", podWithStatus(t, env, podsPath+"/p")); resp.StatusCode != http.StatusOK {
		t.Fatalf("status: %d %s", resp.StatusCode, data)
	}
	if tc.deleting {
		if resp, data := env.do(t, http.MethodDelete, podsPath+"/p?gracePeriodSeconds=0", "", nil); resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
			t.Fatalf("delete: %d %s", resp.StatusCode, data)
		}
	}
}

// sendFinalizerPatch sends the case's patch and returns what came of it.
func sendFinalizerPatch(t *testing.T, env *testEnv, tc finalizerCase, key string) patchOutcome {
	t.Helper()
	query := "?fieldManager=job-controller"
	var header []string
	if tc.userAgent != nil {
		query, header = "?", []string{"User-Agent", *tc.userAgent}
	}
	resp, data := env.do(t, http.MethodPatch, podsPath+"/p"+tc.path+query+tc.query, tc.contentType, []byte(tc.body), header...)
	out := patchOutcome{code: resp.StatusCode, body: data, warnings: resp.Header.Values("Warning")}
	env.store.mu.Lock()
	defer env.store.mu.Unlock()
	if obj, ok := env.store.objs[key]; ok {
		out.stored = obj.DeepCopyObject()
	}
	return out
}

func mustUnstructured(t *testing.T, obj runtime.Object) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// podWithStatus reads the pod at path and gives it an agent's status,
// for a second managedFields entry and times in the stored object.
func podWithStatus(t *testing.T, env *testEnv, path string) []byte {
	t.Helper()
	resp, data := env.do(t, http.MethodGet, path, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get: %d %s", resp.StatusCode, data)
	}
	obj, err := runtime.Decode(unstructured.UnstructuredJSONScheme, data)
	if err != nil {
		t.Fatal(err)
	}
	u := obj.(*unstructured.Unstructured)
	status := map[string]any{
		"phase": "Succeeded", "podIP": "10.244.0.7", "startTime": "2026-01-02T03:04:06Z",
		"conditions": []any{map[string]any{"type": "Ready", "status": "False", "reason": "PodCompleted", "lastTransitionTime": "2026-01-02T03:04:07Z"}},
	}
	for k, v := range status {
		if err := unstructured.SetNestedField(u.Object, v, "status", k); err != nil {
			t.Fatal(err)
		}
	}
	out, err := runtime.Encode(unstructured.UnstructuredJSONScheme, u)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// storeCodec encodes objects as the etcd store does.
var storeCodec = func() *protobuf.Serializer {
	s, err := newScheme()
	if err != nil {
		panic(err)
	}
	return protobuf.NewSerializer(s, s)
}()

// storedBytes is obj as the etcd store encodes it.
func storedBytes(t *testing.T, obj runtime.Object) []byte {
	t.Helper()
	obj = obj.DeepCopyObject()
	acc, err := accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	acc.SetResourceVersion("")
	obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "Pod"})
	var buf bytes.Buffer
	if err := storeCodec.Encode(obj, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// normalize replaces the object at key with what the etcd store would
// hand out for it, decoded from its protobuf encoding without kind, and
// returns a copy of it.
func (m *memStore) normalize(t *testing.T, key string) runtime.Object {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.objs[key]
	if !ok {
		t.Fatalf("no object at %s", key)
	}
	fresh, _, err := storeCodec.Decode(storedBytes(t, cur), nil, &corev1.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	fresh.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	setRV(fresh, mustRev(cur))
	m.objs[key] = fresh
	return fresh.DeepCopyObject()
}

// put replaces the object at key, keeping its resourceVersion; the stores
// of the two servers of a case went through the same writes.
func (m *memStore) put(key string, obj runtime.Object) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[key] = obj.DeepCopyObject()
}

func TestParseFinalizerPatch(t *testing.T) {
	for _, tc := range []struct {
		pt   types.PatchType
		body string
		ok   bool
		want finalizerPatch
	}{
		{types.StrategicMergePatchType, `{"metadata":{"$deleteFromPrimitiveList/finalizers":["a","b"]}}`, true, finalizerPatch{values: []string{"a", "b"}}},
		{types.StrategicMergePatchType, ` { "metadata" : { "$deleteFromPrimitiveList/finalizers" : [ ] } } `, true, finalizerPatch{values: []string{}}},
		{types.MergePatchType, `{"metadata":{"finalizers":["a"]}}`, true, finalizerPatch{set: true, values: []string{"a"}}},
		{types.MergePatchType, `{"metadata":{"finalizers":[]}}`, true, finalizerPatch{set: true, values: []string{}}},
		{types.StrategicMergePatchType, `{"metadata":{"finalizers":["a"]}}`, false, finalizerPatch{}},
		{types.MergePatchType, `{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}`, false, finalizerPatch{}},
		{types.JSONPatchType, `{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}`, false, finalizerPatch{}},
		{types.ApplyPatchType, `{"metadata":{"finalizers":["a"]}}`, false, finalizerPatch{}},
		{types.StrategicMergePatchType, `{"Metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}`, false, finalizerPatch{}},
		{types.StrategicMergePatchType, `{"metadata":{"$deleteFromPrimitiveList/Finalizers":["a"]}}`, false, finalizerPatch{}},
		{types.StrategicMergePatchType, `{"metadata":{"$deleteFromPrimitiveList/finalizers":"a"}}`, false, finalizerPatch{}},
		{types.StrategicMergePatchType, `{"metadata":{"$deleteFromPrimitiveList/finalizers":[{"a":1}]}}`, false, finalizerPatch{}},
		{types.StrategicMergePatchType, `{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"],"$patch":"replace"}}`, false, finalizerPatch{}},
		{types.StrategicMergePatchType, `{"$patch":"replace","metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}`, false, finalizerPatch{}},
		{types.StrategicMergePatchType, `[{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}]`, false, finalizerPatch{}},
		{types.StrategicMergePatchType, ``, false, finalizerPatch{}},
	} {
		got, ok := parseFinalizerPatch(tc.pt, []byte(tc.body))
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %s = %#v %v, want %#v %v", tc.pt, tc.body, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFinalizerPatchApply(t *testing.T) {
	for _, tc := range []struct {
		p       finalizerPatch
		current []string
		want    []string
	}{
		{finalizerPatch{values: []string{"a"}}, nil, nil},
		{finalizerPatch{values: []string{"a"}}, []string{}, nil},
		{finalizerPatch{values: []string{"a"}}, []string{"a"}, []string{}},
		{finalizerPatch{values: []string{"a"}}, []string{"a", "b", "a"}, []string{"b"}},
		{finalizerPatch{values: []string{}}, []string{"a"}, []string{"a"}},
		{finalizerPatch{set: true, values: []string{}}, nil, []string{}},
		{finalizerPatch{set: true, values: []string{"b", "b"}}, []string{"a"}, []string{"b", "b"}},
	} {
		got := tc.p.apply(slices.Clone(tc.current))
		if !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("%+v on %#v = %#v, want %#v", tc.p, tc.current, got, tc.want)
		}
	}
}

func TestJSONRoundTripIsCopy(t *testing.T) {
	type withFloat struct{ F float64 }
	type withUnexported struct {
		A string
		b string
	}
	type withIgnored struct {
		A string `json:"-"`
	}
	type withDash struct {
		A string `json:"-,"`
	}
	type withOmittedBytes struct {
		B []byte `json:"b,omitempty"`
	}
	type withBytes struct {
		B []byte `json:"b"`
	}
	type withInterface struct{ V any }
	type withIntKeys struct{ M map[int]string }
	type withRaw struct{ R runtime.RawExtension }
	type withDuration struct{ D metav1.Duration }
	type recursive struct {
		Next *recursive
		Name string
	}
	for _, tc := range []struct {
		v    any
		want bool
	}{
		{corev1.Pod{}, true},
		{batchv1.Job{}, true},
		{batchv1.CronJob{}, true},
		{corev1.Namespace{}, true},
		{corev1.Secret{}, true},
		{coordinationv1.Lease{}, true},
		{eventsv1.Event{}, true},
		{withBytes{}, true},
		{withDash{}, true},
		{recursive{}, true},
		{unstructured.Unstructured{}, false},
		{withFloat{}, false},
		{withUnexported{}, false},
		{withIgnored{}, false},
		{withOmittedBytes{}, false},
		{withInterface{}, false},
		{withIntKeys{}, false},
		{withRaw{}, false},
		{withDuration{}, false},
	} {
		if got := jsonRoundTripIsCopy(reflect.TypeOf(tc.v)); got != tc.want {
			t.Errorf("%T: %v, want %v", tc.v, got, tc.want)
		}
	}
}
