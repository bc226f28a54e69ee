package patch

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func testJob() *batchv1.Job {
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "pi", Namespace: "default",
			Labels:     map[string]string{"app": "pi", "tier": "batch"},
			Finalizers: []string{"a", "b", "c"},
		},
		Spec: batchv1.JobSpec{
			Parallelism: ptr.To[int32](1),
			Completions: ptr.To[int32](3),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{
					{Name: "pi", Image: "perl:5.34", Command: []string{"perl", "-e", "1"},
						Env: []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}}},
					{Name: "sidecar", Image: "busybox"},
				},
			}},
		},
	}
}

func TestJSONPatch(t *testing.T) {
	current := mustJSON(t, testJob())
	tests := []struct {
		name  string
		patch string
		code  int32
		check func(t *testing.T, j *batchv1.Job)
	}{
		{
			name:  "replace and add",
			patch: `[{"op":"replace","path":"/spec/parallelism","value":4},{"op":"add","path":"/metadata/labels/new","value":"x"}]`,
			check: func(t *testing.T, j *batchv1.Job) {
				if *j.Spec.Parallelism != 4 || j.Labels["new"] != "x" || j.Labels["app"] != "pi" {
					t.Fatalf("got parallelism %d labels %v", *j.Spec.Parallelism, j.Labels)
				}
			},
		},
		{
			name:  "test op passes then remove",
			patch: `[{"op":"test","path":"/spec/completions","value":3},{"op":"remove","path":"/metadata/labels/tier"}]`,
			check: func(t *testing.T, j *batchv1.Job) {
				if _, ok := j.Labels["tier"]; ok {
					t.Fatalf("tier label not removed: %v", j.Labels)
				}
			},
		},
		{name: "test op fails", patch: `[{"op":"test","path":"/spec/completions","value":7}]`, code: http.StatusUnprocessableEntity},
		{name: "remove missing path", patch: `[{"op":"remove","path":"/spec/nothing/here"}]`, code: http.StatusUnprocessableEntity},
		{name: "unknown op", patch: `[{"op":"frobnicate","path":"/spec"}]`, code: http.StatusUnprocessableEntity},
		{name: "not json", patch: `[{"op":`, code: http.StatusBadRequest},
		{name: "object instead of list", patch: `{"op":"add"}`, code: http.StatusBadRequest},
		{name: "result has wrong type", patch: `[{"op":"replace","path":"/spec/parallelism","value":"many"}]`, code: http.StatusUnprocessableEntity},
		{name: "too many operations", patch: "[" + strings.Repeat(`{"op":"test","path":"/kind","value":"Job"},`, maxJSONPatchOperations) + `{"op":"test","path":"/kind","value":"Job"}]`, code: http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Apply(types.JSONPatchType, current, []byte(tt.patch), &batchv1.Job{})
			if tt.code != 0 {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, mustDecode[batchv1.Job](t, out))
		})
	}
}

func TestJSONPatchOperationLimitAllowsMaximum(t *testing.T) {
	ops := "[" + strings.Repeat(`{"op":"test","path":"/kind","value":"Job"},`, maxJSONPatchOperations-1) + `{"op":"test","path":"/kind","value":"Job"}]`
	if _, err := Apply(types.JSONPatchType, mustJSON(t, testJob()), []byte(ops), &batchv1.Job{}); err != nil {
		t.Fatalf("%d operations: %v", maxJSONPatchOperations, err)
	}
}

func TestJSONPatchCopyGrowthIsBounded(t *testing.T) {
	// Each copy doubles the document; unchecked this would need gigabytes.
	var ops []string
	ops = append(ops, fmt.Sprintf(`{"op":"add","path":"/metadata/annotations","value":{"a":"%s"}}`, strings.Repeat("x", 1<<20)))
	for i := 0; i < 40; i++ {
		ops = append(ops, fmt.Sprintf(`{"op":"copy","from":"/metadata/annotations","path":"/metadata/labels/c%d"}`, i))
	}
	_, err := Apply(types.JSONPatchType, mustJSON(t, testJob()), []byte("["+strings.Join(ops, ",")+"]"), &batchv1.Job{})
	wantCode(t, err, http.StatusUnprocessableEntity)
}

func TestMergePatch(t *testing.T) {
	current := mustJSON(t, testJob())
	tests := []struct {
		name  string
		patch string
		code  int32
		check func(t *testing.T, j *batchv1.Job)
	}{
		{
			name:  "delete label with null, set another",
			patch: `{"metadata":{"labels":{"tier":null,"x":"y"}}}`,
			check: func(t *testing.T, j *batchv1.Job) {
				want := map[string]string{"app": "pi", "x": "y"}
				if !reflect.DeepEqual(j.Labels, want) {
					t.Fatalf("labels %v, want %v", j.Labels, want)
				}
			},
		},
		{
			name:  "lists are replaced whole",
			patch: `{"spec":{"template":{"spec":{"containers":[{"name":"only","image":"alpine"}]}}}}`,
			check: func(t *testing.T, j *batchv1.Job) {
				c := j.Spec.Template.Spec.Containers
				if len(c) != 1 || c[0].Name != "only" || c[0].Image != "alpine" || c[0].Command != nil {
					t.Fatalf("containers %+v", c)
				}
			},
		},
		{
			name:  "kubectl scale body",
			patch: `{"spec":{"parallelism":3}}`,
			check: func(t *testing.T, j *batchv1.Job) {
				if *j.Spec.Parallelism != 3 || *j.Spec.Completions != 3 {
					t.Fatalf("spec %+v", j.Spec)
				}
			},
		},
		{name: "not json", patch: `{"spec":`, code: http.StatusBadRequest},
		{name: "result has wrong type", patch: `{"spec":{"completions":"all"}}`, code: http.StatusUnprocessableEntity},
		{name: "array replaces object", patch: `[1,2]`, code: http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Apply(types.MergePatchType, current, []byte(tt.patch), &batchv1.Job{})
			if tt.code != 0 {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, mustDecode[batchv1.Job](t, out))
		})
	}
}

func TestUnsupportedPatchType(t *testing.T) {
	_, err := Apply(types.ApplyYAMLPatchType, []byte(`{}`), []byte(`{}`), &batchv1.Job{})
	wantCode(t, err, http.StatusUnsupportedMediaType)
}
