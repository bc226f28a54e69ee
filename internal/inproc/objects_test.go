package inproc

import (
	"bytes"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

func handOver(t *testing.T, s runtime.Serializer, obj runtime.Object) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := s.Encode(obj, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestObjectSerializerHandsOverCopies(t *testing.T) {
	s := ObjectSerializerInfo(scheme.Scheme, scheme.Scheme).Serializer
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"a": "b"}}}
	token := handOver(t, s, pod)

	into := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "stale", Annotations: map[string]string{"x": "y"}}}
	out, gvk, err := s.Decode(token, nil, into)
	if err != nil {
		t.Fatal(err)
	}
	if out != into || into.Name != "p" || into.Annotations != nil || gvk.Kind != "Pod" || into.Kind != "Pod" {
		t.Fatalf("decoded %+v (%v) into %p (returned %p)", into, gvk, into, out)
	}
	into.Labels["a"] = "changed"
	if pod.Labels["a"] != "b" {
		t.Error("the decoded object shares a map with the one handed over")
	}
	if _, _, err := s.Decode(token, nil, nil); err == nil || !strings.Contains(err.Error(), "taken already") {
		t.Errorf("second decode of one token: %v, want taken already", err)
	}

	other := handOver(t, s, pod)
	if _, _, err := s.Decode(other, nil, &corev1.ConfigMap{}); err == nil || !strings.Contains(err.Error(), "does not decode into") {
		t.Errorf("pod into a ConfigMap: %v", err)
	}
}

func TestObjectTokensAreOfOneProcessAndExpire(t *testing.T) {
	now := time.Unix(1000, 0)
	table := newObjectTable(func() time.Time { return now })
	s := objectSerializer{table: table, typer: scheme.Scheme}
	foreign := objectSerializer{table: newObjectTable(time.Now), typer: scheme.Scheme}

	token := handOver(t, foreign, &corev1.Pod{})
	if _, _, err := s.Decode(token, nil, nil); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("token of another table: %v", err)
	}
	if _, _, err := s.Decode([]byte("{}"), nil, nil); err == nil {
		t.Error("JSON decoded as a token")
	}
	if ok, unknown, _ := s.RecognizesData([]byte(`{"kind":"Pod"}`)); ok || unknown {
		t.Error("the serializer claims JSON")
	}
	if ok, _, _ := s.RecognizesData(token); !ok {
		t.Error("the serializer does not claim a token")
	}

	kept := handOver(t, s, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "kept"}})
	now = now.Add(objectTokenTTL)
	lost := handOver(t, s, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "lost"}}) // starts a generation
	if obj, _, err := s.Decode(kept, nil, nil); err != nil || obj.(*corev1.Pod).Name != "kept" {
		t.Errorf("token one TTL old: %v, %v", obj, err)
	}
	abandoned := handOver(t, s, &corev1.Pod{})
	now = now.Add(objectTokenTTL)
	handOver(t, s, &corev1.Pod{}) // lost and abandoned become the older generation
	now = now.Add(objectTokenTTL)
	handOver(t, s, &corev1.Pod{}) // and are dropped
	for _, tok := range [][]byte{lost, abandoned} {
		if _, _, err := s.Decode(tok, nil, nil); err == nil {
			t.Error("a token two TTLs old was still decoded")
		}
	}
	if n := table.pending(); n != 2 {
		t.Errorf("%d objects wait, want the two put since", n)
	}
}

func managedEntries() []metav1.ManagedFieldsEntry {
	now := metav1.Now()
	return []metav1.ManagedFieldsEntry{
		{Manager: "job-controller", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &now,
			FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{"f:a":{}}}}`)}},
		{Manager: "kubelet", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &now,
			FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{"f:phase":{}}}`)}, Subresource: "status"},
	}
}

// A client's copy has the managedFields entries of the object handed over
// in a slice of its own, and everything else copied.
func TestHandedOverCopyOwnsAllButFieldSets(t *testing.T) {
	s := ObjectSerializerInfo(scheme.Scheme, scheme.Scheme).Serializer
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"a": "b"}, ManagedFields: managedEntries()},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Command: []string{"true"}}}},
	}
	want := pod.DeepCopy()
	got := takeCopy(t, s, pod).(*corev1.Pod)
	// A trimming informer drops the entries; others' views keep theirs.
	got.ManagedFields[0].Manager = "changed"
	got.ManagedFields = nil
	got.Spec.Containers[0].Command[0] = "false"
	got.Labels["a"] = "changed"
	if !apiequality.Semantic.DeepEqual(pod, want) {
		t.Fatalf("changing the copy changed the object handed over:\n%+v", pod)
	}

	// Other kinds take the same path by reflection.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", ManagedFields: managedEntries()}, Data: map[string]string{"k": "v"}}
	wantCM := cm.DeepCopy()
	gotCM := takeCopy(t, s, cm).(*corev1.ConfigMap)
	gotCM.ManagedFields[1].Subresource = "changed"
	gotCM.Data["k"] = "changed"
	if !apiequality.Semantic.DeepEqual(cm, wantCM) {
		t.Fatalf("changing the copy changed the object handed over:\n%+v", cm)
	}

	// Lists are copied whole.
	list := &corev1.PodList{Items: []corev1.Pod{*want.DeepCopy()}}
	out, _, err := s.Decode(handOver(t, s, list), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	gotList := out.(*corev1.PodList)
	gotList.Items[0].ManagedFields[0].FieldsV1.Raw[0] = 'X'
	if list.Items[0].ManagedFields[0].FieldsV1.Raw[0] == 'X' {
		t.Fatal("a list's copy shares field sets")
	}
}

// takeCopy hands obj over and takes it back, checking that the copy
// equals it but for the kind the decoder sets.
func takeCopy(t *testing.T, s runtime.Serializer, obj runtime.Object) runtime.Object {
	t.Helper()
	want := obj.DeepCopyObject()
	out, _, err := s.Decode(handOver(t, s, obj), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	out.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	if !apiequality.Semantic.DeepEqual(out, want) {
		t.Fatalf("copy differs:\n%+v\nwant\n%+v", out, want)
	}
	return out
}

func BenchmarkObjectHandover(b *testing.B) {
	s := ObjectSerializerInfo(scheme.Scheme, scheme.Scheme).Serializer
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"a": "b"}, ManagedFields: managedEntries()},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"/bin/true"}}}}}
	b.ReportAllocs()
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := s.Encode(pod, &buf); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.Decode(buf.Bytes(), nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}
