package patch

import (
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
)

// rawChoices are FieldsV1 blobs written into entries: canonical and
// not (spacing, order), reconciled with the schema (children of atomic
// fields), numbers spelled as floats, and malformed ones.
var rawChoices = []string{
	`{"f:metadata":{"f:labels":{"f:a":{}}}}`,
	`{ "f:metadata" : { "f:labels" : { "f:b" : { } , "f:a":{} } } }`,
	`{"f:metadata":{"f:finalizers":{"v:\"a\"":{},".":{}}}}`,
	`{"f:spec":{"f:selector":{"f:matchLabels":{"f:a":{}}}}}`,
	`{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"a\"}":{".":{},"f:image":{}}}}}}}`,
	`{"f:spec":{"f:ports":{"k:{\"port\":1.0,\"protocol\":\"TCP\"}":{}}}}`,
	`{"f:status":{"f:conditions":{"k:{\"type\":\"a\"}":{"f:status":{}}}}}`,
	`{"f:data":{"f:a":{}},"f:metadata":{"f:managedFields":{}}}`,
	`{"f:status":{"f:phase":{}},"f:spec":{"f:nodeName":{}}}`,
	`{}`, `{"f:metadata":`, `[]`, `{"x:a":{}}`, `null`, ``, `{"f:spec":{"i:0":{}}}`,
}

var equivKinds = []runtime.Object{&corev1.Pod{}, &batchv1.Job{}, &corev1.ConfigMap{}, &corev1.Node{}, &corev1.Service{}}

// equivCase builds, from a seed, a live object with 0..12 entries of all
// sorts and a request changing it; knobs (fuzzed) adds one entry with
// those bytes.
type equivCase struct {
	gvk         schema.GroupVersionKind
	old, next   runtime.Object
	manager     string
	subresource string
}

func buildEquivCase(t testing.TB, seed int64, knob []byte) equivCase {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	f := updateFiller(seed)
	proto := equivKinds[r.Intn(len(equivKinds))]
	gvks, _, err := scheme.Scheme.ObjectKinds(proto)
	if err != nil {
		t.Fatal(err)
	}
	gvk := gvks[0]
	version := gvk.GroupVersion().String()
	created := proto.DeepCopyObject()
	f.Fill(created)
	var live runtime.Object
	if r.Intn(8) > 0 {
		live, err = referenceManagedFields(t, nil, created.DeepCopyObject(), gvk, "creator", "")
		if err != nil {
			live = created
		}
	} else {
		live = created
	}
	subs := []string{"", "status"}
	for n := r.Intn(13); n > 0; n-- {
		next := live.DeepCopyObject()
		changeSomeFields(f, r, next)
		if out, err := referenceManagedFields(t, live.DeepCopyObject(), next, gvk, fmt.Sprintf("m%d", r.Intn(12)), subs[r.Intn(2)]); err == nil {
			live = out
		}
	}
	acc := mustAccessor(t, live)
	entries := acc.GetManagedFields()
	raw := func() *metav1.FieldsV1 {
		switch r.Intn(4) {
		case 0:
			return nil
		case 1:
			if len(entries) > 0 {
				return entries[r.Intn(len(entries))].FieldsV1.DeepCopy()
			}
		}
		return &metav1.FieldsV1{Raw: []byte(rawChoices[r.Intn(len(rawChoices))])}
	}
	for n := r.Intn(4); n > 0; n-- {
		e := metav1.ManagedFieldsEntry{Manager: fmt.Sprintf("x%d", r.Intn(3)), Operation: metav1.ManagedFieldsOperationUpdate,
			APIVersion: version, FieldsType: "FieldsV1", FieldsV1: raw(), Subresource: subs[r.Intn(2)]}
		switch r.Intn(12) {
		case 0, 1, 2:
			e.Operation = metav1.ManagedFieldsOperationApply
		case 3:
			e.APIVersion = schema.GroupVersion{Group: gvk.Group, Version: "v1beta1"}.String()
		case 4:
			e.Operation = "Patch"
		case 5:
			e.FieldsType = ""
		case 6:
			e.Manager = "bad\xff\xfe"
		case 7:
			e.Manager = "ancient-changes"
			e.Subresource = ""
		}
		entries = append(entries, e)
	}
	if knob != nil {
		entries = append(entries, metav1.ManagedFieldsEntry{Manager: "knob", Operation: metav1.ManagedFieldsOperationUpdate,
			APIVersion: version, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: knob}})
	}
	// Times spread over a few seconds so the cap's order depends on them.
	for i := range entries {
		switch r.Intn(4) {
		case 0:
			entries[i].Time = nil
		default:
			tm := metav1.Unix(1600000000+int64(r.Intn(4)), 0)
			entries[i].Time = &tm
		}
	}
	r.Shuffle(len(entries), func(i, j int) { entries[i], entries[j] = entries[j], entries[i] })
	acc.SetManagedFields(entries)
	if r.Intn(3) > 0 {
		acc.SetUID(types.UID("uid"))
	}

	next := live.DeepCopyObject()
	changeSomeFields(f, r, next)
	nacc := mustAccessor(t, next)
	switch r.Intn(8) {
	case 0:
		nacc.SetManagedFields(nil)
	case 1:
		nacc.SetManagedFields([]metav1.ManagedFieldsEntry{})
	case 2:
		nacc.SetManagedFields([]metav1.ManagedFieldsEntry{{}})
	case 3:
		mf := nacc.GetManagedFields()
		if len(mf) > 0 {
			nacc.SetManagedFields(mf[:r.Intn(len(mf))])
		}
	case 4:
		nacc.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "client", Operation: metav1.ManagedFieldsOperationUpdate,
			APIVersion: version, FieldsType: "FieldsV1", FieldsV1: raw()}})
	}
	var old runtime.Object = live
	if r.Intn(10) == 0 {
		old = nil
	}
	return equivCase{gvk: gvk, old: old, next: next, manager: fmt.Sprintf("m%d", r.Intn(12)), subresource: subs[r.Intn(2)]}
}

func mustAccessor(t testing.TB, obj runtime.Object) metav1.Object {
	t.Helper()
	acc, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

func copyOrNil(obj runtime.Object) runtime.Object {
	if obj == nil {
		return nil
	}
	return obj.DeepCopyObject()
}

// normalizedEntries renders entries with a time after since as "now":
// the recording manager's, taken from the clock.
func normalizedEntries(t testing.TB, obj runtime.Object, since time.Time) string {
	t.Helper()
	var b strings.Builder
	for _, e := range mustAccessor(t, obj).GetManagedFields() {
		tm := "nil"
		if e.Time != nil {
			tm = fmt.Sprint(e.Time.Unix())
			if !e.Time.Time.Before(since) {
				tm = "now"
			}
		}
		raw := "<nil>"
		if e.FieldsV1 != nil {
			raw = string(e.FieldsV1.Raw)
		}
		fmt.Fprintf(&b, "[%q %s %s %q %s %s %s]\n", e.Manager, e.Operation, e.APIVersion, e.Subresource, e.FieldsType, tm, raw)
	}
	return b.String()
}

// checkEquivalent runs one update through UpdateObjectManagedFields, the
// plain field manager (reference: validating converter, whole objects) and
// the field manager over pruned objects (chain, the previous
// implementation), and fails on any difference but the clock's times.
func checkEquivalent(t testing.TB, c equivCase) (compared bool) {
	t.Helper()
	since := time.Now().Add(-time.Second).Truncate(time.Second)
	gotObj, gotErr := UpdateObjectManagedFields(copyOrNil(c.old), c.next.DeepCopyObject(), c.gvk, c.manager, c.subresource)
	chainObj, chainErr := func() (out runtime.Object, err error) {
		defer func() {
			if p := recover(); p != nil {
				out, err = nil, recovered(p)
			}
		}()
		return chainManagedFields(copyOrNil(c.old), c.next.DeepCopyObject(), c.gvk, c.manager, c.subresource)
	}()
	if (gotErr == nil) != (chainErr == nil) {
		t.Fatalf("%v %q by %s: error %v, previous implementation %v", c.gvk.Kind, c.subresource, c.manager, gotErr, chainErr)
	}
	if gotErr != nil {
		if _, ok := gotErr.(apierrors.APIStatus); !ok {
			t.Fatalf("error without status: %v", gotErr)
		}
		// Upstream reports the first failure of a map iteration; only
		// its wording is fixed.
		if g, w := errPrefix(gotErr), errPrefix(chainErr); g != w {
			t.Fatalf("%v: error %q, previous implementation %q", c.gvk.Kind, gotErr, chainErr)
		}
		return false
	}
	if g, w := normalizedEntries(t, gotObj, since), normalizedEntries(t, chainObj, since); g != w {
		t.Fatalf("%v %q by %s: managedFields differ from the previous implementation\ngot\n%s\nwant\n%s", c.gvk.Kind, c.subresource, c.manager, g, w)
	}
	refObj, refErr := func() (out runtime.Object, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		return referenceManagedFields(t, copyOrNil(c.old), c.next.DeepCopyObject(), c.gvk, c.manager, c.subresource)
	}()
	if refErr == nil {
		if g, w := normalizedEntries(t, gotObj, since), normalizedEntries(t, refObj, since); g != w {
			t.Fatalf("%v %q by %s: managedFields differ from the plain field manager\ngot\n%s\nwant\n%s", c.gvk.Kind, c.subresource, c.manager, g, w)
		}
	}
	// Only managedFields may differ from the requested object.
	want := c.next.DeepCopyObject()
	want.GetObjectKind().SetGroupVersionKind(c.gvk)
	mustAccessor(t, want).SetManagedFields(nil)
	got := gotObj.DeepCopyObject()
	mustAccessor(t, got).SetManagedFields(nil)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%v: the object itself changed", c.gvk.Kind)
	}
	return refErr == nil
}

func errPrefix(err error) string {
	s := err.Error()
	if i := strings.Index(s, "): "); i >= 0 {
		rest := s[i+3:]
		if j := strings.Index(rest, ":"); j >= 0 {
			return s[:i+3+j]
		}
	}
	return s
}

func TestUpdateFieldsEquivalence(t *testing.T) {
	rounds := int64(300)
	if testing.Short() {
		rounds = 60
	}
	compared := 0
	for seed := int64(0); seed < rounds; seed++ {
		var knob []byte
		if seed%5 == 0 {
			knob = []byte(rawChoices[seed%int64(len(rawChoices))])
		}
		if checkEquivalent(t, buildEquivCase(t, seed, knob)) {
			compared++
		}
	}
	t.Logf("%d of %d updates compared with the plain field manager", compared, rounds)
	if int64(compared) < rounds/3 {
		t.Errorf("only %d of %d updates compared with the plain field manager", compared, rounds)
	}
}

// The table: the cases the random ones may miss.
func TestUpdateFieldsEquivalenceTable(t *testing.T) {
	pod := func() *corev1.Pod { return jobPod(1) }
	withEntries := func(p *corev1.Pod, uid string, entries ...metav1.ManagedFieldsEntry) *corev1.Pod {
		p.UID = types.UID(uid)
		p.ManagedFields = entries
		return p
	}
	tm := metav1.Unix(1600000000, 0)
	entry := func(manager string, op metav1.ManagedFieldsOperationType, sub, raw string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, APIVersion: "v1", FieldsType: "FieldsV1",
			FieldsV1: &metav1.FieldsV1{Raw: []byte(raw)}, Subresource: sub, Time: &tm}
	}
	relabel := func(p *corev1.Pod) *corev1.Pod { p.Labels = map[string]string{"x": "y"}; return p }
	var many []metav1.ManagedFieldsEntry
	for i := 0; i < 13; i++ {
		e := entry(fmt.Sprintf("u%02d", i), metav1.ManagedFieldsOperationUpdate, "", fmt.Sprintf(`{"f:metadata":{"f:annotations":{"f:a%d":{}}}}`, i))
		at := metav1.Unix(1600000000+int64(i%3), 0)
		e.Time = &at
		many = append(many, e)
	}
	cases := []struct {
		name      string
		old, next *corev1.Pod
		sub       string
	}{
		{"create", nil, pod(), ""},
		{"existing object without entries stays without", withEntries(pod(), "u"), relabel(withEntries(pod(), "u")), ""},
		{"object without uid and entries is tracked", withEntries(pod(), ""), relabel(withEntries(pod(), "")), ""},
		{"status write takes a field from another manager", withEntries(pod(), "u",
			entry("a", metav1.ManagedFieldsOperationUpdate, "", `{"f:metadata":{"f:labels":{"f:x":{}}},"f:status":{"f:phase":{}}}`)),
			func() *corev1.Pod { p := withEntries(pod(), "u"); p.Status.Phase = corev1.PodRunning; return p }(), "status"},
		{"request entries replace the live ones", withEntries(pod(), "u", entry("a", metav1.ManagedFieldsOperationUpdate, "", `{"f:spec":{}}`)),
			relabel(withEntries(pod(), "u", entry("b", metav1.ManagedFieldsOperationApply, "", `{"f:metadata":{"f:labels":{"f:x":{}}}}`))), ""},
		{"malformed request entries fall back to live", withEntries(pod(), "u", entry("a", metav1.ManagedFieldsOperationUpdate, "", `{"f:spec":{}}`)),
			relabel(withEntries(pod(), "u", entry("b", metav1.ManagedFieldsOperationUpdate, "", `{"f:`))), ""},
		{"reset", withEntries(pod(), "u", entry("a", metav1.ManagedFieldsOperationUpdate, "", `{"f:spec":{}}`)),
			relabel(withEntries(pod(), "u", metav1.ManagedFieldsEntry{})), ""},
		{"more than ten update managers", withEntries(pod(), "u", many...), relabel(withEntries(pod(), "u", many...)), ""},
		{"removed fields are forgotten", withEntries(pod(), "u", entry("a", metav1.ManagedFieldsOperationUpdate, "", `{"f:metadata":{"f:finalizers":{".":{},"v:\"batch.kubernetes.io/job-tracking\"":{}}}}`)),
			func() *corev1.Pod { p := withEntries(pod(), "u"); p.Finalizers = nil; return p }(), ""},
		{"entry claiming managedFields", withEntries(pod(), "u", entry("a", metav1.ManagedFieldsOperationUpdate, "", `{"f:metadata":{"f:managedFields":{},"f:labels":{}}}`)),
			relabel(withEntries(pod(), "u")), "status"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var old runtime.Object
			if c.old != nil {
				old = c.old
			}
			checkEquivalent(t, equivCase{gvk: podGVK, old: old, next: c.next, manager: "writer", subresource: c.sub})
		})
	}
}

// The live object's entries count as one removed field, the list being
// atomic; the fast path adds that instead of comparing them.
func TestManagedFieldsListIsAtomic(t *testing.T) {
	conv := &updateConverter{base: typeConverter()}
	live := jobPod(1)
	live.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "a", Operation: "Update", APIVersion: "v1", FieldsType: "FieldsV1",
		FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:x`)}}, {Manager: "b"}}
	next := jobPod(1)
	for _, o := range []runtime.Object{live, next} {
		o.GetObjectKind().SetGroupVersionKind(podGVK)
	}
	lt, err := conv.ObjectToTyped(live, typed.AllowDuplicates)
	if err != nil {
		t.Fatal(err)
	}
	nt, err := conv.ObjectToTyped(next, typed.AllowDuplicates)
	if err != nil {
		t.Fatal(err)
	}
	c, err := lt.Compare(nt)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Removed.Equals(managedFieldsSet) || !c.Added.Empty() || !c.Modified.Empty() {
		t.Fatalf("removed %v added %v modified %v", c.Removed, c.Added, c.Modified)
	}
}

// FuzzUpdateObjectManagedFields compares the fast path with the field
// manager on random objects, entries and requests, knob being the bytes
// of one more entry.
func FuzzUpdateObjectManagedFields(f *testing.F) {
	for i, s := range rawChoices {
		f.Add(int64(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, seed int64, knob []byte) {
		checkEquivalent(t, buildEquivCase(t, seed, knob))
	})
}
