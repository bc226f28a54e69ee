package apiserver

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/batchlet/batchlet/internal/registry"
	"github.com/batchlet/batchlet/internal/registry/pod"
)

// conditionCase is one patch sent to a pod holding the existing conditions.
type conditionCase struct {
	name        string
	existing    []corev1.PodCondition
	contentType string
	body        string
	query       string
	path        *string // nil: "/status"
	userAgent   *string
	fast        bool // the body parses as a condition patch and the request qualifies
}

func cond(typ corev1.PodConditionType, status corev1.ConditionStatus, reason string) corev1.PodCondition {
	return corev1.PodCondition{Type: typ, Status: status, Reason: reason, Message: "was " + reason,
		LastTransitionTime: metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 7, 0, time.UTC))}
}

// unschedulable is the scheduler's patch body.
func unschedulable(t *testing.T, msg string) string {
	c := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
		Message: msg, LastTransitionTime: metav1.NewTime(time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC))}
	body, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": []corev1.PodCondition{c}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func conditionCases(t *testing.T) []conditionCase {
	sched := cond(corev1.PodScheduled, corev1.ConditionFalse, "Unschedulable")
	ready := cond(corev1.PodReady, corev1.ConditionFalse, "PodCompleted")
	init := cond(corev1.PodInitialized, corev1.ConditionTrue, "")
	cready := cond(corev1.ContainersReady, corev1.ConditionFalse, "PodCompleted")
	custom := cond("example.com/gate", corev1.ConditionTrue, "Open")
	four := []corev1.PodCondition{init, sched, cready, ready}
	probed := sched
	probed.LastProbeTime = metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 8, 0, time.UTC))
	probed.ObservedGeneration = 2
	items := func(items ...string) string { return `{"status":{"conditions":[` + strings.Join(items, ",") + `]}}` }
	msg := "0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
	main, noAgent := "", ""
	return []conditionCase{
		{name: "scheduler on none", body: unschedulable(t, msg), fast: true},
		{name: "scheduler on own", existing: []corev1.PodCondition{sched}, body: unschedulable(t, msg), fast: true},
		{name: "scheduler among four", existing: four, body: unschedulable(t, msg), fast: true},
		{name: "scheduler new before others", existing: []corev1.PodCondition{init, ready}, body: unschedulable(t, msg), fast: true},
		{name: "scheduler first of three", existing: []corev1.PodCondition{sched, init, ready}, body: unschedulable(t, msg), fast: true},
		{name: "scheduler last of three", existing: []corev1.PodCondition{init, ready, sched}, body: unschedulable(t, msg), fast: true},
		{name: "reversed order", existing: four, fast: true,
			body: items(`{"type":"Ready","status":"True"}`, `{"type":"ContainersReady","status":"True"}`, `{"type":"PodScheduled","status":"True"}`, `{"type":"Initialized","status":"False"}`)},
		{name: "new and old interleaved", existing: four, fast: true,
			body: items(`{"type":"example.com/a","status":"True"}`, `{"type":"Ready","status":"True"}`, `{"type":"example.com/b","status":"False"}`, `{"type":"PodScheduled","status":"True"}`)},
		{name: "several new", existing: []corev1.PodCondition{ready, custom}, fast: true,
			body: items(`{"type":"example.com/x","status":"True"}`, `{"type":"example.com/y","status":"False"}`)},
		{name: "null clears", existing: []corev1.PodCondition{probed}, fast: true,
			body: items(`{"type":"PodScheduled","reason":null,"message":null,"lastProbeTime":null,"lastTransitionTime":null,"observedGeneration":null,"status":null}`)},
		{name: "absent keeps", existing: []corev1.PodCondition{probed}, body: items(`{"type":"PodScheduled","message":"new"}`), fast: true},
		{name: "type only", existing: []corev1.PodCondition{probed, ready}, body: items(`{"type":"Ready"}`), fast: true},
		{name: "nulls in new item", existing: []corev1.PodCondition{ready}, body: items(`{"type":"PodScheduled","status":"True","reason":null,"lastProbeTime":null}`), fast: true},
		{name: "nulls in new item on none", body: items(`{"type":"PodScheduled","status":"True","reason":null,"lastProbeTime":null}`), fast: true},
		{name: "observed generation", existing: []corev1.PodCondition{probed}, body: items(`{"type":"PodScheduled","observedGeneration":7}`), fast: true},
		{name: "sub-second time", existing: []corev1.PodCondition{sched}, body: items(`{"type":"PodScheduled","lastProbeTime":"2026-01-02T03:04:05.123456789Z"}`), fast: true},
		{name: "time with offset", existing: []corev1.PodCondition{sched}, body: items(`{"type":"PodScheduled","lastTransitionTime":"2026-01-02T05:04:05+02:00"}`), fast: true},
		{name: "escapes", existing: []corev1.PodCondition{sched}, body: items(`{"type":"PodSchedule\u0064","message":"a\"b\\c\u00e9<&>\n","reason":"\ud83d\ude00"}`), fast: true},
		{name: "duplicate key in item", existing: []corev1.PodCondition{sched}, body: items(`{"type":"PodScheduled","reason":"A","reason":"B","reason":null}`), fast: true},
		{name: "duplicate status key", existing: []corev1.PodCondition{sched}, body: `{"status":{"phase":"Running"},"status":{"conditions":[{"type":"PodScheduled","reason":"B"}]}}`, fast: true},
		{name: "invalid utf-8", existing: []corev1.PodCondition{sched}, body: items("{\"type\":\"PodScheduled\",\"message\":\"a\xffb\"}"), fast: true},
		{name: "empty type", existing: []corev1.PodCondition{ready}, body: items(`{"type":"","status":"True"}`), fast: true},
		{name: "invalid type", existing: []corev1.PodCondition{ready}, body: items(`{"type":"not valid!","status":"True"}`), fast: true},
		{name: "dry run", existing: four, body: unschedulable(t, msg), query: "&dryRun=All", fast: true},
		{name: "strict", existing: four, body: unschedulable(t, msg), query: "&fieldValidation=Strict", fast: true},
		{name: "ignore", existing: four, body: unschedulable(t, msg), query: "&fieldValidation=Ignore", fast: true},
		{name: "main resource", existing: four, body: unschedulable(t, msg), path: &main, fast: true},
		{name: "existing duplicates", existing: []corev1.PodCondition{ready, sched, ready}, body: items(`{"type":"Ready","status":"True"}`, `{"type":"Initialized","status":"True"}`), fast: true},

		// The general path's.
		{name: "no field manager", existing: four, body: unschedulable(t, msg), userAgent: &noAgent},
		{name: "patch delete", existing: four, body: items(`{"type":"Ready","$patch":"delete"}`)},
		{name: "patch replace item", existing: four, body: items(`{"$patch":"replace"}`, `{"type":"Ready","status":"True"}`)},
		{name: "patch merge item", existing: four, body: items(`{"$patch":"merge"}`, `{"type":"Ready","status":"True"}`)},
		{name: "patch replace in item", existing: four, body: items(`{"type":"Ready","status":"True","$patch":"replace"}`)},
		{name: "set element order", existing: four, body: `{"status":{"$setElementOrder/conditions":[{"type":"Ready"},{"type":"Initialized"}],"conditions":[{"type":"Ready","status":"True"}]}}`},
		{name: "retain keys", existing: []corev1.PodCondition{probed}, body: items(`{"type":"PodScheduled","status":"True","$retainKeys":["type","status"]}`)},
		{name: "delete from primitive list", existing: four, body: `{"status":{"$deleteFromPrimitiveList/conditions":["Ready"]}}`},
		{name: "delete from primitive list too", existing: four, body: `{"status":{"$deleteFromPrimitiveList/conditions":["Ready"],"conditions":[{"type":"Ready"}]}}`},
		{name: "unknown field", existing: four, body: items(`{"type":"Ready","status":"True","severity":"high"}`)},
		{name: "unknown field strict", existing: four, body: items(`{"type":"Ready","status":"True","severity":"high"}`), query: "&fieldValidation=Strict"},
		{name: "wrong case key", existing: four, body: items(`{"type":"Ready","Status":"True"}`)},
		{name: "missing type", existing: four, body: items(`{"status":"True"}`)},
		{name: "missing type on none", body: items(`{"status":"True"}`)},
		{name: "null type", existing: four, body: items(`{"type":null,"status":"True"}`)},
		{name: "number type", existing: four, body: items(`{"type":1,"status":"True"}`)},
		{name: "duplicate types", existing: four, body: items(`{"type":"Ready","status":"True"}`, `{"type":"Ready","reason":"Again"}`)},
		{name: "duplicate types on none", body: items(`{"type":"Ready","status":"True"}`, `{"type":"Ready","reason":"Again"}`)},
		{name: "number status", existing: four, body: items(`{"type":"Ready","status":1}`)},
		{name: "bool message", existing: four, body: items(`{"type":"Ready","message":true}`)},
		{name: "object reason", existing: four, body: items(`{"type":"Ready","reason":{}}`)},
		{name: "invalid time", existing: four, body: items(`{"type":"Ready","lastTransitionTime":"yesterday"}`)},
		{name: "empty time", existing: four, body: items(`{"type":"Ready","lastProbeTime":""}`)},
		{name: "number time", existing: four, body: items(`{"type":"Ready","lastProbeTime":0}`)},
		{name: "float generation", existing: four, body: items(`{"type":"Ready","observedGeneration":1.5}`)},
		{name: "huge generation", existing: four, body: items(`{"type":"Ready","observedGeneration":9223372036854775808}`)},
		{name: "string generation", existing: four, body: items(`{"type":"Ready","observedGeneration":"3"}`)},
		{name: "empty list", existing: four, body: items()},
		{name: "empty list on none", body: items()},
		{name: "null list", existing: four, body: `{"status":{"conditions":null}}`},
		{name: "object list", existing: four, body: `{"status":{"conditions":{"type":"Ready"}}}`},
		{name: "string item", existing: four, body: items(`"Ready"`)},
		{name: "null item", existing: four, body: items(`null`)},
		{name: "null status", existing: four, body: `{"status":null}`},
		{name: "extra status key", existing: four, body: `{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}`},
		{name: "extra top-level key", existing: four, body: `{"metadata":{"labels":{"a":"b"}},"status":{"conditions":[{"type":"Ready","status":"True"}]}}`},
		{name: "stale resourceVersion", existing: four, body: `{"metadata":{"resourceVersion":"1"},"status":{"conditions":[{"type":"Ready","status":"True"}]}}`},
		{name: "top-level directive", existing: four, body: `{"$patch":"replace","status":{"conditions":[{"type":"Ready","status":"True"}]}}`},
		{name: "merge patch", existing: four, contentType: mergeType, body: unschedulable(t, msg)},
		{name: "json patch", existing: four, contentType: string(types.JSONPatchType), body: `[{"op":"replace","path":"/status/conditions/0/status","value":"False"}]`},
		{name: "bad json", existing: four, body: `{"status":{"conditions":[{"type":"Ready"}]}`},
		{name: "trailing data", existing: four, body: unschedulable(t, msg) + `{}`},
		{name: "escaped key", existing: four, body: `{"status":{"condition\u0073":[{"type":"Ready","status":"True"}]}}`},
	}
}

// TestConditionPatchMatchesGeneralPath sends each patch to two servers
// holding the same pod, one with the fast path and one without, and
// requires the same answer and the same stored object, for the test pod
// kind and for the registry's.
func TestConditionPatchMatchesGeneralPath(t *testing.T) {
	kinds := map[string][]registry.Resource{
		"test kinds":    testResources(),
		"registry pods": {namespaceResource(), pod.Resource()},
	}
	cases := conditionCases(t)
	if len(cases) < 25 {
		t.Fatalf("only %d cases", len(cases))
	}
	for kind, resources := range kinds {
		for _, tc := range cases {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				if tc.contentType == "" {
					tc.contentType = smpType
				}
				_, parsed := parseConditionPatch(types.PatchType(tc.contentType), []byte(tc.body))
				if qualifies := tc.userAgent == nil; parsed && qualifies != tc.fast || !parsed && tc.fast {
					t.Fatalf("parsed %v, qualifies %v, want fast %v", parsed, qualifies, tc.fast)
				}
				envs := conditionEnvs(t, resources)
				snapshot := prepareConditions(t, envs, tc.existing)
				fast, general := sendConditionPatchBoth(t, envs, snapshot, conditionRequest(tc))
				compareOutcomes(t, fast, general)
				if tc.fast && tc.name != "existing duplicates" && fast.code != http.StatusOK && fast.code != http.StatusUnprocessableEntity {
					t.Errorf("fast case answered %d %s", fast.code, fast.body)
				}
			})
		}
	}
}

// conditionRequest is the case as the finalizer tests' request.
func conditionRequest(tc conditionCase) finalizerCase {
	path := "/status"
	if tc.path != nil {
		path = *tc.path
	}
	return finalizerCase{contentType: tc.contentType, body: tc.body, query: tc.query, path: path, userAgent: tc.userAgent}
}

func compareOutcomes(t *testing.T, fast, general patchOutcome) {
	t.Helper()
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
}

// conditionEnvs starts the two servers of a comparison, the second one
// with the fast paths off.
func conditionEnvs(t *testing.T, resources []registry.Resource) [2]*testEnv {
	t.Helper()
	envs := [2]*testEnv{}
	for i := range envs {
		envs[i] = newTestEnv(t, func(c *Config) { c.Resources = resources })
	}
	envs[1].api.generalPatchesOnly = true
	rq := &request{res: envs[0].api.lookup(schema.GroupVersion{Version: "v1"}, "pods"), namespace: "default", name: "p"}
	if !envs[0].api.conditionFastPath(rq, updateStatus, "kubelet") || envs[1].api.conditionFastPath(rq, updateStatus, "kubelet") {
		t.Fatal("the fast path is off on the first server or on on the second")
	}
	return envs
}

// podKey is where the test pod p is stored.
var podKey = StorageKey(podResource(), "default", "p")

// prepareConditions creates pod p on both servers, has a kubelet write
// the existing conditions through /status and returns the first store's
// pod as etcd would hand it out, which both stores then hold.
func prepareConditions(t *testing.T, envs [2]*testEnv, existing []corev1.PodCondition) runtime.Object {
	t.Helper()
	for _, env := range envs {
		preparePod(t, env, finalizerCase{})
		resp, data := env.do(t, http.MethodGet, podsPath+"/p", "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("get: %d %s", resp.StatusCode, data)
		}
		var p corev1.Pod
		if err := json.Unmarshal(data, &p); err != nil {
			t.Fatal(err)
		}
		p.Status.Conditions = existing
		body, err := runtime.Encode(unstructured.UnstructuredJSONScheme, mustUnstructured(t, &p))
		if err != nil {
			t.Fatal(err)
		}
		if resp, data := env.do(t, http.MethodPut, podsPath+"/p/status?fieldManager=kubelet", "application/json", body); resp.StatusCode != http.StatusOK {
			t.Fatalf("status: %d %s", resp.StatusCode, data)
		}
	}
	snapshot := envs[0].store.normalize(t, podKey)
	envs[1].store.put(podKey, snapshot)
	return snapshot
}

// sendConditionPatchBoth resets both stores to snapshot and sends the
// patch to both. The field manager stamps entries with the wall clock's
// second, so a pair of patches that straddles a second is sent again.
func sendConditionPatchBoth(t *testing.T, envs [2]*testEnv, snapshot runtime.Object, rq finalizerCase) (fast, general patchOutcome) {
	t.Helper()
	rev := envs[0].store.revision()
	for try := 0; ; try++ {
		for _, env := range envs {
			env.store.reset(podKey, snapshot, rev)
		}
		second := time.Now().Unix()
		fast, general = sendFinalizerPatch(t, envs[0], rq, podKey), sendFinalizerPatch(t, envs[1], rq, podKey)
		if time.Now().Unix() == second || try == 2 {
			return fast, general
		}
	}
}

func (m *memStore) revision() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rev
}

// reset makes the store hold obj at key with revision rev, so two stores
// answer a patch with the same resourceVersion.
func (m *memStore) reset(key string, obj runtime.Object, rev int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[key] = obj.DeepCopyObject()
	m.rev = rev
}

// TestConditionPatchRandomized compares the two paths on random patch
// bodies: plain condition patches with random fields and values, some
// with directives, unknown fields or wrong types, some with their bytes
// mangled, against random existing conditions.
func TestConditionPatchRandomized(t *testing.T) {
	iterations := 300
	if testing.Short() {
		iterations = 60
	}
	kinds := map[string][]registry.Resource{
		"test kinds":    testResources(),
		"registry pods": {namespaceResource(), pod.Resource()},
	}
	for kind, resources := range kinds {
		t.Run(kind, func(t *testing.T) {
			rnd := rand.New(rand.NewSource(1))
			envs := conditionEnvs(t, resources)
			base := prepareConditions(t, envs, nil)
			var fastCount, okCount int
			for i := range iterations {
				snapshot := withConditions(t, base, randomConditions(rnd))
				body := randomConditionBody(rnd)
				rq := finalizerCase{contentType: smpType, body: body, path: "/status"}
				switch rnd.Intn(8) {
				case 0:
					rq.query = "&fieldValidation=Strict"
				case 1:
					rq.query = "&dryRun=All"
				case 2:
					rq.path = ""
				}
				if _, ok := parseConditionPatch(types.StrategicMergePatchType, []byte(body)); ok {
					fastCount++
				}
				fast, general := sendConditionPatchBoth(t, envs, snapshot, rq)
				if fast.code == http.StatusOK {
					okCount++
				}
				t.Run(strconv.Itoa(i), func(t *testing.T) {
					compareOutcomes(t, fast, general)
					if t.Failed() {
						t.Logf("body %s%s on %+v", body, rq.query+rq.path, snapshot.(*corev1.Pod).Status.Conditions)
					}
				})
			}
			t.Logf("%d of %d bodies took the fast path, %d succeeded", fastCount, iterations, okCount)
			// Both kinds of bodies must be well represented.
			if fastCount < iterations/4 || fastCount > iterations*3/4 || okCount < iterations/5 {
				t.Errorf("%d of %d bodies took the fast path, %d succeeded", fastCount, iterations, okCount)
			}
		})
	}
}

// withConditions is pod with the conditions, as the store hands it out.
func withConditions(t *testing.T, pod runtime.Object, conds []corev1.PodCondition) runtime.Object {
	t.Helper()
	p := pod.DeepCopyObject().(*corev1.Pod)
	p.Status.Conditions = conds
	fresh, _, err := storeCodec.Decode(storedBytes(t, p), nil, &corev1.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	fresh.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	setRV(fresh, mustRev(p))
	return fresh
}

var randomTypes = []corev1.PodConditionType{corev1.PodScheduled, corev1.PodReady, corev1.PodInitialized, corev1.ContainersReady, "example.com/x"}

func randomConditions(rnd *rand.Rand) []corev1.PodCondition {
	n := rnd.Intn(5)
	var conds []corev1.PodCondition
	for range n {
		c := corev1.PodCondition{Type: randomTypes[rnd.Intn(len(randomTypes))], Status: corev1.ConditionTrue}
		if rnd.Intn(2) == 0 {
			c.Reason, c.Message = "R", "M"
		}
		if rnd.Intn(2) == 0 {
			c.LastTransitionTime = metav1.NewTime(time.Date(2026, 1, 2, 3, 4, rnd.Intn(60), 0, time.UTC))
		}
		if rnd.Intn(4) == 0 {
			c.LastProbeTime = metav1.NewTime(time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC))
			c.ObservedGeneration = 1
		}
		// Mostly distinct types; duplicates now and then.
		if rnd.Intn(8) != 0 && slices.ContainsFunc(conds, func(o corev1.PodCondition) bool { return o.Type == c.Type }) {
			continue
		}
		conds = append(conds, c)
	}
	return conds
}

// member is one key and raw JSON value of an object being written; keys
// may repeat, as they may in a request.
type member struct{ key, value string }

func object(members ...member) string {
	parts := make([]string, len(members))
	for i, m := range members {
		parts[i] = strconv.Quote(m.key) + ":" + m.value
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// Values the random items draw from; the first ones of each are valid.
var (
	randomStrings = []string{`"True"`, `"False"`, `"Unschedulable"`, `"a\"b\u00e9\n"`, `""`, `null`, `1`, `true`, `{}`, `["x"]`}
	randomTimes   = []string{`"2026-01-02T03:04:05Z"`, `"2026-01-02T03:04:05.5Z"`, `"2026-01-02T05:04:05+02:00"`, `null`, `""`, `"yesterday"`, `5`, `"2026-01-02"`}
	randomGens    = []string{`3`, `0`, `null`, `-1`, `1.5`, `"3"`, `99999999999999999999`}
	randomExtras  = []member{{"$patch", `"delete"`}, {"$patch", `"replace"`}, {"$patch", `"merge"`}, {"$retainKeys", `["type"]`},
		{"severity", `"x"`}, {"Type", `"Ready"`}, {"$setElementOrder/x", `[]`}}
)

func pick[T any](rnd *rand.Rand, values []T, valid bool) T {
	if valid {
		return values[rnd.Intn(min(len(values), 4))]
	}
	return values[rnd.Intn(len(values))]
}

// randomConditionBody is a random patch body, about half of them in the
// fast path's shape.
func randomConditionBody(rnd *rand.Rand) string {
	valid := rnd.Intn(2) == 0
	var items []string
	for range 1 + rnd.Intn(3) {
		var ms []member
		switch typ := rnd.Intn(12); {
		case typ == 0 && !valid:
		case typ == 1 && !valid:
			ms = append(ms, member{"type", pick(rnd, []string{`null`, `1`, `""`}, false)})
		default:
			ms = append(ms, member{"type", strconv.Quote(string(randomTypes[rnd.Intn(len(randomTypes))]))})
		}
		for _, f := range []string{"status", "reason", "message"} {
			if rnd.Intn(2) == 0 {
				ms = append(ms, member{f, pick(rnd, randomStrings, valid)})
			}
		}
		for _, f := range []string{"lastProbeTime", "lastTransitionTime"} {
			if rnd.Intn(2) == 0 {
				ms = append(ms, member{f, pick(rnd, randomTimes, valid)})
			}
		}
		if rnd.Intn(4) == 0 {
			ms = append(ms, member{"observedGeneration", pick(rnd, randomGens, valid)})
		}
		if !valid && rnd.Intn(3) == 0 {
			ms = append(ms, randomExtras[rnd.Intn(len(randomExtras))])
		}
		rnd.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
		items = append(items, object(ms...))
	}
	list := "[" + strings.Join(items, ",") + "]"
	status := []member{{"conditions", list}}
	top := []member{{"status", ""}}
	if !valid {
		switch rnd.Intn(6) {
		case 0:
			status = append(status, member{"$setElementOrder/conditions", `[{"type":"Ready"}]`})
		case 1:
			status = append(status, member{"phase", `"Running"`})
		case 2:
			top = append(top, member{"metadata", `{"resourceVersion":"1"}`})
		case 3:
			status[0].value = pick(rnd, []string{`[]`, `null`, `{}`, `[null]`}, false)
		}
	}
	top[0].value = object(status...)
	body := object(top...)
	if !valid && rnd.Intn(3) == 0 {
		body = mangle(rnd, body)
	}
	return body
}

const mangleBytes = `{}[]":,n0\`

// mangle deletes, inserts or repeats a few bytes of body.
func mangle(rnd *rand.Rand, body string) string {
	b := []byte(body)
	for range 1 + rnd.Intn(2) {
		at := rnd.Intn(len(b))
		switch rnd.Intn(3) {
		case 0:
			b = slices.Delete(b, at, at+1)
		case 1:
			b = slices.Insert(b, at, mangleBytes[rnd.Intn(len(mangleBytes))])
		default:
			end := min(len(b), at+1+rnd.Intn(12))
			b = slices.Insert(b, at, b[at:end]...)
		}
		if len(b) == 0 {
			break
		}
	}
	return string(b)
}

func TestParseConditionPatch(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Local())
	for _, tc := range []struct {
		pt   types.PatchType
		body string
		want []conditionItem
	}{
		{types.StrategicMergePatchType, `{"status":{"conditions":[{"type":"A","status":"True","lastProbeTime":null,"lastTransitionTime":"2026-01-02T03:04:05Z"}]}}`,
			[]conditionItem{{fields: condStatus | condLastProbeTime | condLastTransitionTime, cond: corev1.PodCondition{Type: "A", Status: "True", LastTransitionTime: at}}}},
		{types.StrategicMergePatchType, ` { "status" : { "conditions" : [ {"type":"A"} , {"type":"B","reason":null,"observedGeneration":4} ] } } `,
			[]conditionItem{{cond: corev1.PodCondition{Type: "A"}}, {fields: condReason | condObservedGeneration, cond: corev1.PodCondition{Type: "B", ObservedGeneration: 4}}}},
		{types.MergePatchType, `{"status":{"conditions":[{"type":"A"}]}}`, nil},
		{types.JSONPatchType, `{"status":{"conditions":[{"type":"A"}]}}`, nil},
		{types.ApplyPatchType, `{"status":{"conditions":[{"type":"A"}]}}`, nil},
		{types.StrategicMergePatchType, `{"status":{"conditions":[{"type":"A"},{"type":"A"}]}}`, nil},
		{types.StrategicMergePatchType, `{"status":{"conditions":[{"type":"A","$patch":"delete"}]}}`, nil},
		{types.StrategicMergePatchType, `{"Status":{"conditions":[{"type":"A"}]}}`, nil},
		{types.StrategicMergePatchType, `{"status":{"Conditions":[{"type":"A"}]}}`, nil},
		{types.StrategicMergePatchType, `{"status":{"conditions":[]}}`, nil},
		{types.StrategicMergePatchType, `[{"status":{"conditions":[{"type":"A"}]}}]`, nil},
		{types.StrategicMergePatchType, ``, nil},
	} {
		got, ok := parseConditionPatch(tc.pt, []byte(tc.body))
		if ok != (tc.want != nil) || !reflect.DeepEqual(got.items, tc.want) {
			t.Errorf("%s %s = %#v %v, want %#v", tc.pt, tc.body, got, ok, tc.want)
		}
	}
}

// TestConditionPatchApplyOrder compares the order apply gives with the
// strategic merge library's on random lists of distinct types.
func TestConditionPatchApplyOrder(t *testing.T) {
	typesOf := func(conds []corev1.PodCondition) string {
		var out []string
		for _, c := range conds {
			out = append(out, string(c.Type))
		}
		return strings.Join(out, " ")
	}
	randomTypes := func(rnd *rand.Rand) []corev1.PodConditionType {
		all := []corev1.PodConditionType{"A", "B", "C", "D", "E", "F"}
		rnd.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		return all[:rnd.Intn(len(all)+1)]
	}
	rnd := rand.New(rand.NewSource(1))
	for range 2000 {
		var current []corev1.PodCondition
		for _, typ := range randomTypes(rnd) {
			current = append(current, corev1.PodCondition{Type: typ, Status: "True"})
		}
		var p conditionPatch
		for _, typ := range randomTypes(rnd) {
			p.items = append(p.items, conditionItem{fields: condStatus, cond: corev1.PodCondition{Type: typ, Status: "False"}})
		}
		if len(p.items) == 0 {
			continue
		}
		got, ok := p.apply(slices.Clone(current))
		if !ok {
			t.Fatalf("%q not applied", typesOf(current))
		}
		want := strategicConditions(t, current, p)
		if typesOf(got) != typesOf(want) {
			t.Errorf("%q patched with %q = %q, strategic merge gives %q", typesOf(current), typesOfItems(p.items), typesOf(got), typesOf(want))
		}
	}
	p := conditionPatch{items: []conditionItem{{cond: corev1.PodCondition{Type: "A"}}}}
	if _, ok := p.apply([]corev1.PodCondition{{Type: "A"}, {Type: "B"}, {Type: "A"}}); ok {
		t.Error("duplicate current types applied")
	}
}

func typesOfItems(items []conditionItem) string {
	var out []string
	for _, it := range items {
		out = append(out, string(it.cond.Type))
	}
	return strings.Join(out, " ")
}

// strategicConditions is what the strategic merge library makes of the
// patch's types on a pod with the current conditions.
func strategicConditions(t *testing.T, current []corev1.PodCondition, p conditionPatch) []corev1.PodCondition {
	t.Helper()
	original, err := json.Marshal(&corev1.Pod{Status: corev1.PodStatus{Conditions: current}})
	if err != nil {
		t.Fatal(err)
	}
	var items []map[string]string
	for _, it := range p.items {
		items = append(items, map[string]string{"type": string(it.cond.Type)})
	}
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": items}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := strategicpatch.StrategicMergePatch(original, patch, &corev1.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	var patched corev1.Pod
	if err := json.Unmarshal(out, &patched); err != nil {
		t.Fatal(err)
	}
	return patched.Status.Conditions
}
