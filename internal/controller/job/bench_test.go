package job

import (
	"fmt"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
)

// BenchmarkDecideIndexed10k measures the pure part of one sync of an
// Indexed Job with 10,000 completions at parallelism 200, midway: 4,800
// pods counted and 200 just finished, to be replaced.
func BenchmarkDecideIndexed10k(b *testing.B) {
	job := indexedJob(10000, 200, nil)
	job.Status.CompletedIndexes = "0-4799"
	job.Status.Succeeded = 4800
	var pods []*corev1.Pod
	for i := 0; i < 5000; i++ {
		p := newPod(job, i, nil)
		p.Name, p.UID = fmt.Sprintf("j-%d", i), types.UID("u"+strconv.Itoa(i))
		switch {
		case i < 4800:
			p.Status.Phase = corev1.PodSucceeded
			p.Finalizers = nil
		default:
			p.Status.Phase = corev1.PodSucceeded
		}
		p.CreationTimestamp = metav1.NewTime(t0)
		pods = append(pods, p)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := &syncState{job: job.DeepCopy(), pods: pods, now: t0, expectedRm: sets.New[string]()}
		analyze(s)
		plan := planPods(s)
		if plan.create != 200 {
			b.Fatalf("create %d", plan.create)
		}
		tp := planTracking(s, false)
		if len(tp.rmFinalizers) != 200 {
			b.Fatalf("rm %d", len(tp.rmFinalizers))
		}
	}
}
