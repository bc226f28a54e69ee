package serialize

import (
	"bytes"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
)

func testPod(name string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": name}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"true"}}}},
	}
}

// Every encoder gives what its own Encode into a buffer gives, and two
// results never share memory.
func TestEncodeMatchesEncoder(t *testing.T) {
	encoders := map[string]runtime.Encoder{
		"protobuf":     protobuf.NewSerializer(scheme.Scheme, scheme.Scheme),
		"protobuf raw": protobuf.NewRawSerializer(scheme.Scheme, scheme.Scheme),
		"json":         json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme, json.SerializerOptions{}),
		"yaml":         json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme, json.SerializerOptions{Yaml: true}),
		"codec":        scheme.Codecs.LegacyCodec(corev1.SchemeGroupVersion),
	}
	for name, enc := range encoders {
		t.Run(name, func(t *testing.T) {
			var want bytes.Buffer
			if err := enc.Encode(testPod("a"), &want); err != nil {
				t.Fatal(err)
			}
			a, err := Encode(enc, testPod("a"))
			if err != nil {
				t.Fatal(err)
			}
			b, err := Encode(enc, testPod("b"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, want.Bytes()) {
				t.Fatalf("Encode gave\n%q\nthe encoder\n%q", a, want.Bytes())
			}
			if bytes.Equal(a, b) {
				t.Fatalf("two different pods encoded alike: %q", a)
			}
			aAgain, _ := Encode(enc, testPod("a"))
			if !bytes.Equal(a, aAgain) {
				t.Fatalf("a later encoding changed an earlier result: %q, then %q", aAgain, a)
			}
		})
	}
}

func TestEncodeError(t *testing.T) {
	enc := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
	obj := &unstructured.Unstructured{Object: map[string]any{"kind": "Pod", "apiVersion": "v1"}}
	if _, err := Encode(enc, obj); err == nil {
		t.Fatal("an object without protobuf encoding was encoded")
	}
}

// ownedWriter copies once the encoder writes more than once.
func TestOwnedWriterCopiesStreams(t *testing.T) {
	prefix := make([]byte, 2, 64)
	copy(prefix, "k8")
	var w ownedWriter
	w.Write(prefix)
	w.Write([]byte("s-body"))
	w.Write([]byte("!"))
	got := w.bytes()
	if string(got) != "k8s-body!" {
		t.Fatalf("got %q", got)
	}
	got[0] = 'X'
	if string(prefix) != "k8" {
		t.Fatalf("the result shares the encoder's first slice: %q", prefix)
	}
}

func BenchmarkEncodePod(b *testing.B) {
	enc := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
	pod := testPod("bench")
	b.Run("serialize.Encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Encode(enc, pod); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bytes.Buffer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var buf bytes.Buffer
			if err := enc.Encode(pod, &buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}
