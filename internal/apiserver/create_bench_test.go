package apiserver

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/batchlet/batchlet/internal/registry"
	"github.com/batchlet/batchlet/internal/registry/job"
)

// BenchmarkCreate measures POST of a batch/v1 Job (real registry) against
// the in-memory store, with and without managedFields tracking.
func BenchmarkCreate(b *testing.B) {
	for _, track := range []bool{false, true} {
		b.Run(fmt.Sprintf("managedFields=%v", track), func(b *testing.B) {
			h, err := New(Config{Storage: newMemStore(), Resources: []registry.Resource{job.Resource()},
				Clock: clocktesting.NewFakeClock(testNow)})
			if err != nil {
				b.Fatal(err)
			}
			api := h.(*server)
			api.lookup(schema.GroupVersion{Group: "batch", Version: "v1"}, "jobs").trackFields = track
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for i := 0; i < b.N; i++ {
				body := fmt.Sprintf(`{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j%d","labels":{"app":"pi"}},`+
					`"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"pi","image":"perl","command":["perl","-e","print 1"]}]}}}}`, i)
				req := httptest.NewRequest(http.MethodPost, "/apis/batch/v1/namespaces/default/jobs?fieldManager=kubectl-create", bytes.NewReader([]byte(body)))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusCreated {
					b.Fatalf("create: %d %s", rec.Code, rec.Body.Bytes())
				}
			}
			// CPU time, unlike wall time, holds up on a loaded machine.
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the user and system CPU time of the process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
