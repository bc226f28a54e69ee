package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/batchlet/batchlet/internal/registry"
	"github.com/batchlet/batchlet/internal/registry/job"
)

// BenchmarkUpdateStatus measures PUT of a Job's /status (a controller's
// status write: only status changes) against the in-memory store.
func BenchmarkUpdateStatus(b *testing.B) {
	h, err := New(Config{Storage: newMemStore(), Resources: []registry.Resource{job.Resource()},
		Clock: clocktesting.NewFakeClock(testNow)})
	if err != nil {
		b.Fatal(err)
	}
	const base = "/apis/batch/v1/namespaces/default/jobs"
	body := `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"pi","labels":{"app":"pi"}},` +
		`"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"pi","image":"perl","command":["perl","-e","print 1"]}]}}}}`
	rec := benchServe(h, http.MethodPost, base+"?fieldManager=kubectl-create", []byte(body))
	if rec.Code != http.StatusCreated {
		b.Fatalf("create: %d %s", rec.Code, rec.Body.Bytes())
	}
	var current batchv1.Job
	if err := json.Unmarshal(rec.Body.Bytes(), &current); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		current.Status.Active = int32(i%2 + 1)
		current.Status.Ready = nil
		data, err := json.Marshal(&current)
		if err != nil {
			b.Fatal(err)
		}
		rec := benchServe(h, http.MethodPut, base+"/pi/status?fieldManager=job-controller", data)
		if rec.Code != http.StatusOK {
			b.Fatalf("update: %d %s", rec.Code, rec.Body.Bytes())
		}
		current = batchv1.Job{}
		if err := json.Unmarshal(rec.Body.Bytes(), &current); err != nil {
			b.Fatal(fmt.Errorf("decoding update answer: %w", err))
		}
	}
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

func benchServe(h http.Handler, method, path string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
