package job

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
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

// steadyIndexed10k is a controller whose caches hold an Indexed Job with
// 10,000 completions at parallelism 200, late in its run: 9,800 pods
// finished and counted (tracking finalizer gone), 200 running. Its status
// is up to date, so a sync decides nothing and makes no API call: what it
// costs is gathering and scanning the pods.
func steadyIndexed10k(b *testing.B) (*Controller, *fake.Clientset, string) {
	b.Helper()
	job := indexedJob(10000, 200, nil)
	job.Status = batchv1.JobStatus{
		Active: 200, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0),
		Succeeded: 9800, CompletedIndexes: "0-9799",
		StartTime:               ptr.To(metav1.NewTime(t0)),
		UncountedTerminatedPods: &batchv1.UncountedTerminatedPods{},
	}
	client := fake.NewClientset()
	c, err := NewController(client, informers.NewSharedInformerFactory(client, 0), clocktesting.NewFakeClock(t0))
	if err != nil {
		b.Fatal(err)
	}
	if err := c.jobIndexer.Add(job); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 10000; i++ {
		p := newPod(job, i, nil)
		p.Name, p.UID = fmt.Sprintf("j-%d", i), types.UID("u"+strconv.Itoa(i))
		p.CreationTimestamp = metav1.NewTime(t0)
		if i < 9800 {
			p.Status.Phase = corev1.PodSucceeded
			p.Finalizers = nil
		} else {
			p.Status.Phase = corev1.PodRunning
		}
		if err := c.podIndexer.Add(p); err != nil {
			b.Fatal(err)
		}
	}
	return c, client, job.Namespace + "/" + job.Name
}

// BenchmarkSyncIndexed10kCounted is one whole syncJob in that state.
// every-pod reads all 10,000 pods each sync, as the controller did before
// settled pods were skipped (and still does on a Job's first sync).
func BenchmarkSyncIndexed10kCounted(b *testing.B) {
	for _, everyPod := range []bool{false, true} {
		name := "unsettled-only"
		if everyPod {
			name = "every-pod"
		}
		b.Run(name, func(b *testing.B) {
			c, client, key := steadyIndexed10k(b)
			ctx := context.Background()
			if err := c.syncJob(ctx, key); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if everyPod {
					c.scans.forget(key)
				}
				if err := c.syncJob(ctx, key); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if n := len(client.Actions()); n != 0 {
				b.Fatalf("a steady-state sync made %d API calls: %v", n, client.Actions()[0])
			}
		})
	}
}
