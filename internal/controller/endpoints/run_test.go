package endpoints

import (
	"context"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// eventually polls cond, advancing the fake clock so that batched pod
// syncs come due, until it holds or a real deadline passes.
func (f *fixture) eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		f.clk.Step(50 * time.Millisecond)
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *fixture) readyIPs(name string) []string {
	ep, err := f.client.CoreV1().Endpoints("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil || len(ep.Subsets) == 0 {
		return nil
	}
	return ips(ep.Subsets[0].Addresses)
}

// TestRunFollowsPodsAndServices drives the controller through informer
// events only: a Service appears, a pod becomes ready, the Service goes.
func TestRunFollowsPodsAndServices(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.c.Run(ctx, 2)
	f.factory.Start(ctx.Done())
	// The fake clientset drops events between an informer's list and watch.
	f.factory.WaitForCacheSync(ctx.Done())
	defer f.factory.Shutdown()
	defer cancel()

	api := f.client.CoreV1()
	svc := service("web", web, tcpPort("http", 80, intstr.FromInt32(8080)))
	if _, err := api.Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := pod("a", "10.0.0.1", false)
	if _, err := api.Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.eventually(t, "not-ready address", func() bool {
		ep, err := api.Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
		return err == nil && len(ep.Subsets) == 1 && len(ep.Subsets[0].NotReadyAddresses) == 1
	})

	p.Status.Conditions[0].Status = corev1.ConditionTrue
	p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(base.Add(2 * time.Minute))
	if _, err := api.Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.eventually(t, "ready address", func() bool {
		return reflect.DeepEqual(f.readyIPs("web"), []string{"10.0.0.1"})
	})
	ep, _ := api.Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
	if got, want := ep.Annotations[corev1.EndpointsLastChangeTriggerTime], base.Add(2*time.Minute).Format(time.RFC3339Nano); got != want {
		t.Errorf("trigger time = %q, want the readiness transition %q", got, want)
	}

	if err := api.Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.eventually(t, "endpoints deletion", func() bool {
		_, err := api.Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}

// TestPodChurnIsBatched checks that pod events within the batch period
// cost a single Endpoints write.
func TestPodChurnIsBatched(t *testing.T) {
	svc := service("web", web, tcpPort("http", 80, intstr.FromInt32(8080)))
	f := newFixture(t)
	f.c.BatchPeriod = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api := f.client.CoreV1()
	if _, err := api.Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	go f.c.Run(ctx, 1)
	f.factory.Start(ctx.Done())
	// The fake clientset drops events between an informer's list and watch.
	f.factory.WaitForCacheSync(ctx.Done())
	defer f.factory.Shutdown()
	defer cancel()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := api.Endpoints("default").Get(ctx, "web", metav1.GetOptions{}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the initial endpoints")
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.client.ClearActions()
	for i, ip := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
		if _, err := api.Pods("default").Create(ctx, pod("p"+itoa(i), ip, true), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Let the informer deliver all three pods before the batch comes due.
	for len(mustList(t, f)) < 3 {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the pod cache")
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.clk.Step(time.Hour)
	for len(f.readyIPs("web")) != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("timed out; ready = %v", f.readyIPs("web"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	writes := 0
	for _, a := range f.client.Actions() {
		if a.GetResource().Resource == "endpoints" && a.GetVerb() == "update" {
			writes++
		}
	}
	if writes != 1 {
		t.Errorf("endpoints updates = %d, want 1 for a batch of pod changes", writes)
	}
}

func mustList(t *testing.T, f *fixture) []*corev1.Pod {
	t.Helper()
	pods, err := f.c.podLister.List(everything())
	if err != nil {
		t.Fatal(err)
	}
	return pods
}
