package apiserver

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestPatchTypes(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	cms := env.client.CoreV1().ConfigMaps("default")
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Data: map[string]string{"a": "1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pt   types.PatchType
		body string
		key  string
		want string
	}{
		{types.MergePatchType, `{"data":{"b":"2"}}`, "b", "2"},
		{types.StrategicMergePatchType, `{"data":{"c":"3"}}`, "c", "3"},
		{types.JSONPatchType, `[{"op":"replace","path":"/data/a","value":"9"}]`, "a", "9"},
	} {
		out, err := cms.Patch(ctx, "p", tc.pt, []byte(tc.body), metav1.PatchOptions{})
		if err != nil || out.Data[tc.key] != tc.want {
			t.Errorf("%s: %v %v", tc.pt, out.Data, err)
		}
	}
	job, _ := env.client.BatchV1().Jobs("default").Create(ctx, newJob("pj"), metav1.CreateOptions{})
	out, err := env.client.BatchV1().Jobs("default").Patch(ctx, "pj", types.StrategicMergePatchType,
		[]byte(`{"metadata":{"labels":{"tier":"demo"}},"status":{"succeeded":4}}`), metav1.PatchOptions{})
	if err != nil || out.Labels["tier"] != "demo" || out.Status.Succeeded != 0 {
		t.Errorf("main patch touched status or missed labels: %v %v", out, err)
	}
	st, err := env.client.BatchV1().Jobs("default").Patch(ctx, "pj", types.MergePatchType, []byte(`{"status":{"succeeded":4}}`), metav1.PatchOptions{}, "status")
	if err != nil || st.Status.Succeeded != 4 {
		t.Errorf("status patch: %v %v", st, err)
	}
	// A stale resourceVersion in the patch conflicts instead of retrying.
	_, err = env.client.BatchV1().Jobs("default").Patch(ctx, "pj", types.MergePatchType,
		[]byte(`{"metadata":{"resourceVersion":"`+job.ResourceVersion+`"}}`), metav1.PatchOptions{})
	if err == nil || !strings.Contains(err.Error(), "the object has been modified") {
		t.Errorf("stale patch: %v", err)
	}
	resp, data := env.do(t, "PATCH", "/apis/batch/v1/namespaces/default/jobs/pj?fieldValidation=Strict", "application/merge-patch+json", []byte(`{"spec":{"bogusField":1}}`))
	if resp.StatusCode != 400 || !strings.Contains(string(data), "unknown field") {
		t.Errorf("strict patch: %d %s", resp.StatusCode, data)
	}
	resp, _ = env.do(t, "PATCH", "/apis/batch/v1/namespaces/default/jobs/pj", "application/json", []byte(`{}`))
	if resp.StatusCode != 415 {
		t.Errorf("patch with plain json = %d, want 415", resp.StatusCode)
	}
	resp, _ = env.do(t, "PATCH", "/apis/batch/v1/namespaces/default/jobs/missing", "application/merge-patch+json", []byte(`{}`))
	if resp.StatusCode != 404 {
		t.Errorf("patch of missing object = %d, want 404", resp.StatusCode)
	}
}

func TestServerSideApply(t *testing.T) {
	env := newTestEnv(t)
	body := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ssa"},"data":{"a":"1"}}`
	path := "/api/v1/namespaces/default/configmaps/ssa?fieldManager=kubectl&fieldValidation=Strict&force=false"
	resp, data := env.do(t, "PATCH", path, "application/apply-patch+yaml", []byte(body))
	if resp.StatusCode != 201 || !strings.Contains(string(data), `"manager":"kubectl"`) {
		t.Fatalf("apply create: %d %s", resp.StatusCode, data)
	}
	body = strings.Replace(body, `"a":"1"`, `"a":"2"`, 1)
	resp, data = env.do(t, "PATCH", path, "application/apply-patch+yaml", []byte(body))
	if resp.StatusCode != 200 || !strings.Contains(string(data), `"a":"2"`) {
		t.Fatalf("apply update: %d %s", resp.StatusCode, data)
	}
	resp, _ = env.do(t, "PATCH", "/api/v1/namespaces/default/configmaps/ssa", "application/apply-patch+yaml", []byte(body))
	if resp.StatusCode != 422 {
		t.Errorf("apply without fieldManager = %d, want 422", resp.StatusCode)
	}
}
