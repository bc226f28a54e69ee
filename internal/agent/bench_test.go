package agent

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// podWatcher reports when each pod first reaches a state.
func podWatcher(b *testing.B, h *harness, reached func(*corev1.Pod) bool) (<-chan string, func()) {
	b.Helper()
	w, err := h.client.CoreV1().Pods("default").Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	out := make(chan string, 1024)
	go func() {
		seen := map[string]bool{}
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || ev.Type == watch.Deleted || seen[p.Name] || !reached(p) {
				continue
			}
			seen[p.Name] = true
			out <- p.Name
		}
	}()
	return out, w.Stop
}

func benchPod(name string, c corev1.Container) *corev1.Pod {
	p := testPod(name, c)
	p.UID = types.UID(fmt.Sprintf("%s-%d", name, time.Now().UnixNano()))
	return p
}

// BenchmarkPodStartLatency measures bound pod → container running, one pod
// at a time, through the API and a real process.
func BenchmarkPodStartLatency(b *testing.B) {
	h := startAgent(b, nil, b.TempDir())
	runningC, stop := podWatcher(b, h, running)
	defer stop()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("lat-%d", i)
		start := time.Now()
		h.create(benchPod(name, corev1.Container{Name: "c", Image: "registry.k8s.io/pause:3.10"}))
		select {
		case <-runningC:
		case <-time.After(30 * time.Second):
			b.Fatalf("pod %s did not start", name)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
	for i := 0; i < b.N; i++ {
		_ = h.client.CoreV1().Pods("default").Delete(context.Background(), fmt.Sprintf("lat-%d", i), metav1.DeleteOptions{})
	}
}

// BenchmarkPodThroughput measures sustained pods per second on one node:
// b.N short pods created at once, timed until all have Succeeded.
func BenchmarkPodThroughput(b *testing.B) {
	h := startAgent(b, nil, b.TempDir())
	doneC, stop := podWatcher(b, h, phaseIs(corev1.PodSucceeded))
	defer stop()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		h.create(benchPod(fmt.Sprintf("tp-%d", i), corev1.Container{Name: "c", Image: "debian", Command: []string{"true"}}))
	}
	for i := 0; i < b.N; i++ {
		select {
		case <-doneC:
		case <-time.After(60 * time.Second):
			b.Fatalf("only %d of %d pods finished", i, b.N)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pods/s")
}
