package apiserver

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"context"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
)

// FuzzCreate posts arbitrary bodies to create, update and patch; no input
// may produce a 5xx.
func FuzzCreate(f *testing.F) {
	for _, seed := range []string{
		bogusJob,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"default"}}`,
		`[{"op":"add","path":"/metadata/labels","value":{"a":"b"}}]`,
		`{"metadata":{"finalizers":["x"],"deletionTimestamp":"2020-01-01T00:00:00Z"}}`,
		"k8s\x00\x0a\x00", "", "null", `{"kind":1}`,
	} {
		f.Add([]byte(seed), uint8(0))
	}
	h, err := New(Config{Storage: newMemStore(), Resources: testResources(), Clock: clocktesting.NewFakeClock(testNow)})
	if err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := kubernetes.NewForConfigOrDie(&rest.Config{Host: srv.URL})
	ctx := context.Background()
	_, _ = client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	_, _ = client.CoreV1().ConfigMaps("default").Create(ctx, cm("target", nil), metav1.CreateOptions{})
	requests := []struct{ method, path, ct string }{
		{"POST", "/apis/batch/v1/namespaces/default/jobs?fieldValidation=Strict", "application/json"},
		{"POST", "/api/v1/namespaces/default/configmaps", "application/yaml"},
		{"POST", "/api/v1/namespaces/default/configmaps", "application/vnd.kubernetes.protobuf"},
		{"PUT", "/api/v1/namespaces/default/configmaps/target", "application/json"},
		{"PATCH", "/api/v1/namespaces/default/configmaps/target", "application/json-patch+json"},
		{"PATCH", "/api/v1/namespaces/default/configmaps/target", "application/merge-patch+json"},
		{"PATCH", "/api/v1/namespaces/default/configmaps/target", "application/strategic-merge-patch+json"},
		{"PATCH", "/apis/batch/v1/namespaces/default/jobs/x/status", "application/apply-patch+yaml"},
		{"DELETE", "/api/v1/namespaces/default/configmaps/target", "application/json"},
	}
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		rq := requests[int(which)%len(requests)]
		req, err := http.NewRequest(rq.method, srv.URL+rq.path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", rq.ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s with %q: %d", rq.method, rq.path, body, resp.StatusCode)
		}
	})
}
