package apiserver

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
)

const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"

func TestTables(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	for _, n := range []string{"a", "b", "c"} {
		if _, err := env.client.BatchV1().Jobs("default").Create(ctx, newJob(n), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.client.CoreV1().ConfigMaps("default").Create(ctx, cm("x", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path       string
		columns    []string
		rows       int
		objectKind string
		cont       bool
		firstCell0 string
	}{
		{"/apis/batch/v1/namespaces/default/jobs?limit=2", []string{"Name", "Completions", "Age"}, 2, "PartialObjectMetadata", true, "a"},
		{"/apis/batch/v1/namespaces/default/jobs/b", []string{"Name", "Completions", "Age"}, 1, "PartialObjectMetadata", false, "b"},
		{"/apis/batch/v1/namespaces/default/jobs/b?includeObject=Object", []string{"Name", "Completions", "Age"}, 1, "Job", false, "b"},
		{"/apis/batch/v1/namespaces/default/jobs/b?includeObject=None", []string{"Name", "Completions", "Age"}, 1, "", false, "b"},
		{"/api/v1/namespaces/default/configmaps", []string{"Name", "Created At"}, 1, "PartialObjectMetadata", false, "x"},
	} {
		resp, body := env.do(t, "GET", tc.path, "", nil, "Accept", tableAccept)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", tc.path, resp.StatusCode, body)
		}
		var table metav1.Table
		if err := json.Unmarshal(body, &table); err != nil {
			t.Fatal(err)
		}
		if table.Kind != "Table" || table.APIVersion != "meta.k8s.io/v1" || table.ResourceVersion == "" {
			t.Errorf("%s: table meta %+v", tc.path, table.TypeMeta)
		}
		var cols []string
		for _, c := range table.ColumnDefinitions {
			cols = append(cols, c.Name)
		}
		if strings.Join(cols, ",") != strings.Join(tc.columns, ",") || len(table.Rows) != tc.rows {
			t.Errorf("%s: columns %v rows %d", tc.path, cols, len(table.Rows))
			continue
		}
		if table.Rows[0].Cells[0] != tc.firstCell0 || (table.Continue != "") != tc.cont {
			t.Errorf("%s: first cell %v continue %q", tc.path, table.Rows[0].Cells[0], table.Continue)
		}
		var kind struct{ Kind string }
		_ = json.Unmarshal(table.Rows[0].Object.Raw, &kind)
		if kind.Kind != tc.objectKind {
			t.Errorf("%s: row object kind %q, want %q", tc.path, kind.Kind, tc.objectKind)
		}
	}
	if cells := mustTableCells(t, env, "/api/v1/namespaces/default/configmaps"); cells[1] != testNow.Format("2006-01-02T15:04:05Z") {
		t.Errorf("Created At cell = %v", cells[1])
	}
	resp, _ := env.do(t, "GET", "/api/v1/namespaces/default/configmaps", "", nil, "Accept", "text/html")
	if resp.StatusCode != 406 {
		t.Errorf("unsupported Accept = %d, want 406", resp.StatusCode)
	}
	resp, body := env.do(t, "GET", "/api/v1/namespaces/default/configmaps/x", "", nil, "Accept", "application/yaml")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "kind: ConfigMap") {
		t.Errorf("yaml: %d %s", resp.StatusCode, body)
	}
}

func mustTableCells(t *testing.T, env *testEnv, path string) []interface{} {
	t.Helper()
	_, body := env.do(t, "GET", path, "", nil, "Accept", tableAccept)
	var table metav1.Table
	if err := json.Unmarshal(body, &table); err != nil || len(table.Rows) == 0 {
		t.Fatalf("table %s: %v", body, err)
	}
	return table.Rows[0].Cells
}

func TestProtobufAndMetadataClients(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	pcfg := *env.config
	pcfg.ContentType = "application/vnd.kubernetes.protobuf"
	pcfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	pb := kubernetes.NewForConfigOrDie(&pcfg)
	// What `kubectl create job` sends: a protobuf body.
	job, err := pb.BatchV1().Jobs("default").Create(ctx, newJob("pb"), metav1.CreateOptions{FieldManager: "kubectl-create", FieldValidation: "Strict"})
	if err != nil || job.UID == "" {
		t.Fatalf("protobuf create: %v", err)
	}
	list, err := pb.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("protobuf list: %v", err)
	}
	if err := pb.BatchV1().Jobs("default").Delete(ctx, "pb", metav1.DeleteOptions{PropagationPolicy: ptr(metav1.DeletePropagationBackground)}); err != nil {
		t.Fatalf("protobuf delete: %v", err)
	}
	if _, err := env.client.CoreV1().ConfigMaps("default").Create(ctx, cm("m", map[string]string{"a": "b"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mc := metadata.NewForConfigOrDie(env.config)
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	ml, err := mc.Resource(gvr).Namespace("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(ml.Items) != 1 || ml.Items[0].Labels["a"] != "b" {
		t.Fatalf("metadata list: %+v %v", ml, err)
	}
	one, err := mc.Resource(gvr).Namespace("default").Get(ctx, "m", metav1.GetOptions{})
	if err != nil || one.Name != "m" {
		t.Fatalf("metadata get: %+v %v", one, err)
	}
	_ = batchv1.Job{}
	_ = corev1.Pod{}
}
