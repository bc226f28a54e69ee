package serialize

import (
	"bytes"
	"math/rand/v2"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
)

func richPod() *corev1.Pod {
	now := metav1.Now()
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "job-0-abc", Namespace: "default", UID: "u1",
			Labels:          map[string]string{"batch.kubernetes.io/job-completion-index": "0"},
			Finalizers:      []string{"batch.kubernetes.io/job-tracking"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "job", UID: "j1", Controller: ptr.To(true)}},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate,
				APIVersion: "v1", Time: &now, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{}}`)}}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"true"},
			Env: []corev1.EnvVar{{Name: "JOB_COMPLETION_INDEX", Value: "0"}}}}, RestartPolicy: corev1.RestartPolicyNever},
		Status: corev1.PodStatus{Phase: corev1.PodSucceeded, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now}}},
	}
}

func encodeProto(t *testing.T, obj runtime.Object) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme).Encode(obj, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sameDecode checks that DecodeProtobuf answers data as the serializer
// does: the same object, or an error both times.
func sameDecode(t *testing.T, data []byte) (decodedHere bool) {
	t.Helper()
	ser := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
	want, _, wantErr := ser.Decode(bytes.Clone(data), nil, nil)
	got, gotErr := DecodeProtobuf(ser, scheme.Scheme, data)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("data %q: error %v, the serializer's %v", data, gotErr, wantErr)
	}
	if wantErr == nil && !apiequality.Semantic.DeepEqual(got, want) {
		t.Fatalf("data %q: decoded\n%#v\nthe serializer\n%#v", data, got, want)
	}
	_, here := decodeEnvelope(scheme.Scheme, data)
	return here
}

func TestDecodeProtobufMatchesSerializer(t *testing.T) {
	objs := []runtime.Object{
		richPod(),
		&batchv1.Job{TypeMeta: metav1.TypeMeta{Kind: "Job", APIVersion: "batch/v1"}, ObjectMeta: metav1.ObjectMeta{Name: "j"},
			Spec: batchv1.JobSpec{Completions: ptr.To[int32](3)}},
		&corev1.ConfigMap{TypeMeta: metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"}, Data: map[string]string{"a": "b"}, BinaryData: map[string][]byte{"c": {0, 1}}},
	}
	for _, obj := range objs {
		data := encodeProto(t, obj)
		if !sameDecode(t, data) {
			t.Errorf("%T was left to the serializer", obj)
		}
		for i := range data {
			sameDecode(t, data[:i])
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for range 2000 {
			mutated := bytes.Clone(data)
			mutated[rng.IntN(len(mutated))] = byte(rng.IntN(256))
			sameDecode(t, mutated)
		}
	}
}

// The object owns its bytes: changing the data afterwards changes nothing.
func TestDecodedObjectDoesNotShareData(t *testing.T) {
	data := encodeProto(t, richPod())
	obj, err := DecodeProtobuf(protobuf.NewSerializer(scheme.Scheme, scheme.Scheme), scheme.Scheme, data)
	if err != nil {
		t.Fatal(err)
	}
	before := obj.DeepCopyObject()
	for i := range data {
		data[i] = 'x'
	}
	if !apiequality.Semantic.DeepEqual(obj, before) {
		t.Fatal("the decoded object changed with the data it came from")
	}
}

// Envelopes this does not read itself go to the serializer.
func TestDecodeProtobufLeavesTheUnusualToTheSerializer(t *testing.T) {
	unknownKind := encodeProto(t, &runtime.Unknown{TypeMeta: runtime.TypeMeta{APIVersion: "example.com/v1", Kind: "Widget"}, Raw: []byte{}})
	encoded := encodeProto(t, &runtime.Unknown{TypeMeta: runtime.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ContentEncoding: "gzip"})
	for name, data := range map[string][]byte{"unknown kind": unknownKind, "content encoding": encoded, "json": []byte(`{"kind":"Pod"}`)} {
		if sameDecode(t, data) {
			t.Errorf("%s: decoded without the serializer", name)
		}
	}
}

func BenchmarkDecodePod(b *testing.B) {
	var buf bytes.Buffer
	ser := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
	if err := ser.Encode(richPod(), &buf); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.Run("DecodeProtobuf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeProtobuf(ser, scheme.Scheme, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("serializer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := ser.Decode(data, nil, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
