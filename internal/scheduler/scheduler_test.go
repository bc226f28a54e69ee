package scheduler

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/clock"
)

var podGVR = corev1.SchemeGroupVersion.WithResource("pods")

// start runs a scheduler on a fake clientset whose pods/binding sets
// spec.nodeName, as the apiserver does.
func start(t *testing.T) (*fake.Clientset, context.Context) {
	t.Helper()
	client := fake.NewClientset()
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b := a.(k8stesting.CreateAction).GetObject().(*corev1.Binding)
		obj, err := client.Tracker().Get(podGVR, b.Namespace, b.Name)
		if err != nil {
			return true, nil, err
		}
		p := obj.(*corev1.Pod).DeepCopy()
		p.Spec.NodeName = b.Target.Name
		return true, nil, client.Tracker().Update(podGVR, p, p.Namespace)
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	factory := informers.NewSharedInformerFactory(client, 0)
	s, err := New(client, factory, clock.RealClock{})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	go s.Run(ctx, 4)
	// The fake's watch does not replay events missed between list and
	// watch: wait until both watches are open.
	waitFor(t, ctx, "watches", func() bool {
		watching := map[string]bool{}
		for _, a := range client.Actions() {
			if a.GetVerb() == "watch" {
				watching[a.GetResource().Resource] = true
			}
		}
		return watching["pods"] && watching["nodes"]
	})
	return client, ctx
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func getPod(ctx context.Context, client *fake.Clientset, name string) *corev1.Pod {
	p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return &corev1.Pod{}
	}
	return p
}

func TestBindsManyPodsWithinCapacity(t *testing.T) {
	client, ctx := start(t)
	for _, n := range []string{"a", "b"} {
		if _, err := client.CoreV1().Nodes().Create(ctx, node(n), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// 2 nodes × 2 CPUs: 8 pods of 500m fit, the 9th does not.
	for i := 0; i < 9; i++ {
		p := pod(requestCPU("500m"))
		p.Name, p.UID = fmt.Sprintf("p%d", i), types.UID(fmt.Sprint("uid", i))
		if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	perNode := map[string]int{}
	var pending *corev1.Pod
	waitFor(t, ctx, "8 bound, 1 unschedulable", func() bool {
		clear(perNode)
		pending = nil
		for i := 0; i < 9; i++ {
			p := getPod(ctx, client, fmt.Sprintf("p%d", i))
			if p.Spec.NodeName != "" {
				perNode[p.Spec.NodeName]++
			} else if len(p.Status.Conditions) > 0 {
				pending = p
			}
		}
		return perNode["a"]+perNode["b"] == 8 && pending != nil
	})
	if perNode["a"] != 4 || perNode["b"] != 4 {
		t.Fatalf("spread %v", perNode)
	}
	c := pending.Status.Conditions[0]
	want := "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
	if c.Type != corev1.PodScheduled || c.Status != corev1.ConditionFalse || c.Reason != "Unschedulable" || c.Message != want {
		t.Fatalf("condition %+v", c)
	}
	// A new node lets it through.
	if _, err := client.CoreV1().Nodes().Create(ctx, node("c"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "pending pod bound to the new node", func() bool {
		return getPod(ctx, client, pending.Name).Spec.NodeName == "c"
	})
}

func TestLeavesOtherSchedulersPods(t *testing.T) {
	client, ctx := start(t)
	if _, err := client.CoreV1().Nodes().Create(ctx, node("a"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	other := pod(func(p *corev1.Pod) { p.Name, p.Spec.SchedulerName = "other", "my-scheduler" })
	mine := pod(func(p *corev1.Pod) { p.Name = "mine" })
	for _, p := range []*corev1.Pod{other, mine} {
		if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, ctx, "own pod bound", func() bool { return getPod(ctx, client, "mine").Spec.NodeName == "a" })
	for _, a := range client.Actions() {
		if a.GetResource().Resource == "pods" && a.GetSubresource() != "" {
			if b, ok := a.(k8stesting.CreateAction).GetObject().(*corev1.Binding); ok && b.Name == "other" {
				t.Fatal("bound another scheduler's pod")
			}
		}
	}
	if p := getPod(ctx, client, "other"); p.Spec.NodeName != "" || len(p.Status.Conditions) != 0 {
		t.Fatalf("other pod touched: %+v", p.Status)
	}
}

// TestWatchesOnlyPodsThatAreNotFinished checks the pod informer's list and
// watch select the non-terminal pods, as kube-scheduler's: finished pods
// are neither held in its cache nor sent to it.
func TestWatchesOnlyPodsThatAreNotFinished(t *testing.T) {
	client, _ := start(t)
	want := fields.ParseSelectorOrDie("status.phase!=Succeeded,status.phase!=Failed").String()
	seen := map[string]bool{}
	for _, a := range client.Actions() {
		if a.GetResource().Resource != "pods" || (a.GetVerb() != "list" && a.GetVerb() != "watch") {
			continue
		}
		var got string
		switch a := a.(type) {
		case k8stesting.ListAction:
			got = a.GetListRestrictions().Fields.String()
		case k8stesting.WatchAction:
			got = a.GetWatchRestrictions().Fields.String()
		}
		if got != want {
			t.Errorf("pod %s with field selector %q, want %q", a.GetVerb(), got, want)
		}
		seen[a.GetVerb()] = true
	}
	if !seen["list"] || !seen["watch"] {
		t.Fatalf("pod list and watch not both seen: %v", seen)
	}
}
