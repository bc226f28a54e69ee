package patch

import (
	"net/http"
	"reflect"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func testPod() *corev1.Pod {
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "p", Namespace: "default",
			Labels:     map[string]string{"app": "x", "drop": "me"},
			Finalizers: []string{"f1", "f2", "f3"},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{
				{Name: "a", Image: "a:1", Env: []corev1.EnvVar{{Name: "E1", Value: "1"}}},
				{Name: "b", Image: "b:1"},
			},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: "/tmp"},
			}}},
		},
	}
}

func names(cs []corev1.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func TestStrategicMergePatchPod(t *testing.T) {
	current := mustJSON(t, testPod())
	tests := []struct {
		name  string
		patch string
		code  int32
		check func(t *testing.T, p *corev1.Pod)
	}{
		{
			name:  "containers merge by name",
			patch: `{"spec":{"containers":[{"name":"b","image":"b:2"},{"name":"c","image":"c:1"}]}}`,
			check: func(t *testing.T, p *corev1.Pod) {
				cs := p.Spec.Containers
				if !reflect.DeepEqual(names(cs), []string{"a", "b", "c"}) {
					t.Fatalf("containers %v", names(cs))
				}
				if cs[0].Image != "a:1" || len(cs[0].Env) != 1 || cs[1].Image != "b:2" || cs[2].Image != "c:1" {
					t.Fatalf("containers %+v", cs)
				}
			},
		},
		{
			name:  "env merges by name inside a container",
			patch: `{"spec":{"containers":[{"name":"a","env":[{"name":"E2","value":"2"}]}]}}`,
			check: func(t *testing.T, p *corev1.Pod) {
				env := p.Spec.Containers[0].Env
				if len(env) != 2 || env[0].Name != "E2" && env[1].Name != "E2" {
					t.Fatalf("env %+v", env)
				}
			},
		},
		{
			name:  "null deletes a label",
			patch: `{"metadata":{"labels":{"drop":null}}}`,
			check: func(t *testing.T, p *corev1.Pod) {
				if !reflect.DeepEqual(p.Labels, map[string]string{"app": "x"}) {
					t.Fatalf("labels %v", p.Labels)
				}
			},
		},
		{
			name:  "$patch delete removes one container",
			patch: `{"spec":{"containers":[{"name":"a","$patch":"delete"}]}}`,
			check: func(t *testing.T, p *corev1.Pod) {
				if !reflect.DeepEqual(names(p.Spec.Containers), []string{"b"}) {
					t.Fatalf("containers %v", names(p.Spec.Containers))
				}
			},
		},
		{
			name:  "$patch replace on a list",
			patch: `{"spec":{"containers":[{"name":"z","image":"z:1"},{"$patch":"replace"}]}}`,
			check: func(t *testing.T, p *corev1.Pod) {
				if !reflect.DeepEqual(names(p.Spec.Containers), []string{"z"}) {
					t.Fatalf("containers %v", names(p.Spec.Containers))
				}
			},
		},
		{
			name:  "$deleteFromPrimitiveList on finalizers",
			patch: `{"metadata":{"$deleteFromPrimitiveList/finalizers":["f2"]}}`,
			check: func(t *testing.T, p *corev1.Pod) {
				if !reflect.DeepEqual(p.Finalizers, []string{"f1", "f3"}) {
					t.Fatalf("finalizers %v", p.Finalizers)
				}
			},
		},
		{
			name:  "$setElementOrder reorders containers",
			patch: `{"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}]}}`,
			check: func(t *testing.T, p *corev1.Pod) {
				if !reflect.DeepEqual(names(p.Spec.Containers), []string{"b", "a"}) {
					t.Fatalf("containers %v", names(p.Spec.Containers))
				}
			},
		},
		{
			name:  "$retainKeys drops the other volume source",
			patch: `{"spec":{"volumes":[{"name":"data","emptyDir":{},"$retainKeys":["emptyDir","name"]}]}}`,
			check: func(t *testing.T, p *corev1.Pod) {
				v := p.Spec.Volumes
				if len(v) != 1 || v[0].HostPath != nil || v[0].EmptyDir == nil {
					t.Fatalf("volumes %+v", v)
				}
			},
		},
		{name: "$retainKeys not matching the patch", patch: `{"spec":{"volumes":[{"name":"data","emptyDir":{},"$retainKeys":["name"]}]}}`, code: http.StatusBadRequest},
		{name: "$retainKeys not a list", patch: `{"spec":{"volumes":[{"name":"data","$retainKeys":"name"}]}}`, code: http.StatusBadRequest},
		// kube-apiserver reports this one as a 500 with no reason.
		{name: "unknown $patch directive", patch: `{"spec":{"$patch":"explode"}}`, code: http.StatusInternalServerError},
		{name: "not json", patch: `{"spec":[`, code: http.StatusBadRequest},
		{name: "json array", patch: `[{"op":"add"}]`, code: http.StatusBadRequest},
		{name: "result has wrong type", patch: `{"spec":{"containers":[{"name":"a","image":7}]}}`, code: http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Apply(types.StrategicMergePatchType, current, []byte(tt.patch), &corev1.Pod{})
			if tt.code != 0 {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, mustDecode[corev1.Pod](t, out))
		})
	}
}

// kubectl's client-side apply sends this when a label is added to a Job
// that was created with "kubectl apply".
func TestStrategicMergePatchKubectlApply(t *testing.T) {
	job := testJob()
	job.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"old":true}` + "\n"}
	body := `{"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"new\":true}\n"},"labels":{"tier":"demo"}}}`
	out, err := Apply(types.StrategicMergePatchType, mustJSON(t, job), []byte(body), &batchv1.Job{})
	if err != nil {
		t.Fatal(err)
	}
	got := mustDecode[batchv1.Job](t, out)
	if got.Annotations["kubectl.kubernetes.io/last-applied-configuration"] != "{\"new\":true}\n" {
		t.Fatalf("annotations %v", got.Annotations)
	}
	if got.Labels["tier"] != "demo" || got.Labels["app"] != "pi" {
		t.Fatalf("labels %v", got.Labels)
	}
	if !reflect.DeepEqual(got.Spec, job.Spec) {
		t.Fatalf("spec changed:\n%+v\n%+v", got.Spec, job.Spec)
	}
}

// kubectl cordon and uncordon patch a Node.
func TestStrategicMergePatchCordon(t *testing.T) {
	node := mustJSON(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	out, err := Apply(types.StrategicMergePatchType, node, []byte(`{"spec":{"unschedulable":true}}`), &corev1.Node{})
	if err != nil {
		t.Fatal(err)
	}
	if !mustDecode[corev1.Node](t, out).Spec.Unschedulable {
		t.Fatal("node not cordoned")
	}
	out, err = Apply(types.StrategicMergePatchType, out, []byte(`{"spec":{"unschedulable":null}}`), &corev1.Node{})
	if err != nil {
		t.Fatal(err)
	}
	if mustDecode[corev1.Node](t, out).Spec.Unschedulable {
		t.Fatal("node not uncordoned")
	}
}

func TestStrategicMergePatchNeedsType(t *testing.T) {
	_, err := Apply(types.StrategicMergePatchType, []byte(`{}`), []byte(`{}`), nil)
	wantCode(t, err, http.StatusInternalServerError)
}
