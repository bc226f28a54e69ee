package apiserver

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	clocktesting "k8s.io/utils/clock/testing"
)

// BenchmarkPatchFinalizer measures the Job controller's strategic merge
// patch removing a pod's tracking finalizer; each op also adds it back
// with a merge patch, so one op is two patches of a pod with managedFields.
func BenchmarkPatchFinalizer(b *testing.B) {
	h, err := New(Config{Storage: newMemStore(), Resources: testResources(), Clock: clocktesting.NewFakeClock(testNow)})
	if err != nil {
		b.Fatal(err)
	}
	if rec := benchServe(h, http.MethodPost, "/api/v1/namespaces", []byte(`{"metadata":{"name":"default"}}`)); rec.Code != http.StatusCreated {
		b.Fatalf("namespace: %d %s", rec.Code, rec.Body.Bytes())
	}
	const base = "/api/v1/namespaces/default/pods"
	pod := `{"metadata":{"name":"p","labels":{"batch.kubernetes.io/job-name":"pi"},"finalizers":["batch.kubernetes.io/job-tracking"]},` +
		`"spec":{"restartPolicy":"Never","containers":[{"name":"pi","image":"perl","command":["/bin/true"]}]}}`
	if rec := benchServe(h, http.MethodPost, base+"?fieldManager=job-controller", []byte(pod)); rec.Code != http.StatusCreated {
		b.Fatalf("create: %d %s", rec.Code, rec.Body.Bytes())
	}
	remove := []byte(`{"metadata":{"$deleteFromPrimitiveList/finalizers":["batch.kubernetes.io/job-tracking"]}}`)
	add := []byte(`{"metadata":{"finalizers":["batch.kubernetes.io/job-tracking"]}}`)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		if rec := benchPatch(h, base+"/p?fieldManager=job-controller", "application/strategic-merge-patch+json", remove); rec.Code != http.StatusOK {
			b.Fatalf("remove: %d %s", rec.Code, rec.Body.Bytes())
		}
		if rec := benchPatch(h, base+"/p?fieldManager=job-controller", "application/merge-patch+json", add); rec.Code != http.StatusOK {
			b.Fatalf("add: %d %s", rec.Code, rec.Body.Bytes())
		}
	}
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

func benchPatch(h http.Handler, path, contentType string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPatch, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
