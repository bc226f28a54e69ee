package apiserver

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
)

// BenchmarkWatchFanOut: 100 watchers of pods, 1000 updates of one pod;
// reports the time from the last update's response until the last
// watcher has seen it, with and without the watch cache. Run with
// -benchtime 1x: one iteration is the whole scenario.
func BenchmarkWatchFanOut(b *testing.B) {
	const watchers, updates = 100, 1000
	for _, cached := range []bool{false, true} {
		b.Run(fmt.Sprintf("cache=%v", cached), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				lag, total, cpu := runFanOut(b, cached, watchers, updates)
				b.ReportMetric(float64(lag.Microseconds())/1000, "last-watcher-ms")
				b.ReportMetric(float64(total.Milliseconds()), "total-ms")
				// Server and watchers share the process: CPU per update
				// covers both, and the watchers' decoding does not change.
				b.ReportMetric(float64(cpu.Microseconds())/updates, "cpu-us/update")
			}
		})
	}
}

func runFanOut(b *testing.B, cached bool, watchers, updates int) (lag, total, cpu time.Duration) {
	b.Helper()
	store := newMemStore()
	h, err := New(Config{Storage: store, Resources: testResources(), Clock: clocktesting.NewFakeClock(testNow)})
	if err != nil {
		b.Fatal(err)
	}
	if !cached {
		h.(*server).watchCaches = nil
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := kubernetes.NewForConfigOrDie(&rest.Config{Host: srv.URL, QPS: -1})
	ctx := context.Background()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	pods := client.CoreV1().Pods("default")
	pod, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}, metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	want := fmt.Sprint(updates)
	var wg sync.WaitGroup
	arrived := make(chan time.Time, watchers)
	for i := 0; i < watchers; i++ {
		w, err := pods.Watch(ctx, metav1.ListOptions{ResourceVersion: pod.ResourceVersion})
		if err != nil {
			b.Fatal(err)
		}
		defer w.Stop()
		wg.Add(1)
		go func(w watch.Interface) {
			defer wg.Done()
			for ev := range w.ResultChan() {
				if p, ok := ev.Object.(*corev1.Pod); ok && p.Labels["n"] == want {
					arrived <- time.Now()
					return
				}
			}
		}(w)
	}
	b.ResetTimer()
	begin, cpuBegin := time.Now(), processCPU()
	for n := 1; n <= updates; n++ {
		pod.Labels = map[string]string{"n": fmt.Sprint(n)}
		if pod, err = pods.Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	written := time.Now()
	wg.Wait()
	cpu = processCPU() - cpuBegin
	close(arrived)
	last := written
	count := 0
	for t := range arrived {
		count++
		if t.After(last) {
			last = t
		}
	}
	b.StopTimer()
	if count != watchers {
		b.Fatalf("%d of %d watchers saw the last update", count, watchers)
	}
	return last.Sub(written), last.Sub(begin), cpu
}
