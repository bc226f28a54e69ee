package applyschema

import (
	"flag"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"
)

var update = flag.Bool("update", false, "rewrite "+schemaFile+" from client-go's schema")

// clientGoTypes parses client-go's own copy of the schema, the slow way.
func clientGoTypes(t testing.TB) []smdschema.TypeDef {
	t.Helper()
	pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}}
	tv, err := applyconfigurations.NewTypeConverter(scheme.Scheme).ObjectToTyped(pod)
	if err != nil {
		t.Fatalf("client-go type converter: %v", err)
	}
	return tv.Schema().Types
}

// TestEmbeddedSchemaIsCurrent fails when client-go's schema changed (a
// dependency upgrade) and the embedded copy was not regenerated with
// `go test ./internal/applyschema -run TestEmbeddedSchemaIsCurrent -update`.
func TestEmbeddedSchemaIsCurrent(t *testing.T) {
	want := clientGoTypes(t)
	if *update {
		data, err := encode(want)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(schemaFile, data, 0o644); err != nil {
			t.Fatal(err)
		}
		embedded = data
	}
	got, err := decode(embedded)
	if err != nil {
		t.Fatalf("decoding the embedded schema: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("embedded schema has %d types, client-go's %d: regenerate with -update", len(got), len(want))
	}
	for i := range want {
		if diff := cmp.Diff(want[i], got[i], cmpopts.IgnoreUnexported(smdschema.Map{})); diff != "" {
			t.Fatalf("type %s differs from client-go's: regenerate with -update\n%s", want[i].Name, diff)
		}
	}
}

// TestManagedFieldsMatchClientGo tracks the same object through both
// parsers: the field sets must be identical.
func TestManagedFieldsMatchClientGo(t *testing.T) {
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"a": "b"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "busybox", Ports: []corev1.ContainerPort{{ContainerPort: 80}},
			Env: []corev1.EnvVar{{Name: "X", Value: "1"}},
		}}},
	}
	ours, err := TypeConverter(scheme.Scheme).ObjectToTyped(pod)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := applyconfigurations.NewTypeConverter(scheme.Scheme).ObjectToTyped(pod)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ours.ToFieldSet()
	if err != nil {
		t.Fatal(err)
	}
	b, err := theirs.ToFieldSet()
	if err != nil {
		t.Fatal(err)
	}
	if !a.Equals(b) {
		t.Fatalf("field sets differ:\nours:   %s\ntheirs: %s", a, b)
	}
}

// BenchmarkDecodeEmbedded is the start-up cost of Parser.
func BenchmarkDecodeEmbedded(b *testing.B) {
	for b.Loop() {
		if _, err := decode(embedded); err != nil {
			b.Fatal(err)
		}
	}
}
