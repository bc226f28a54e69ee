package podgc

import (
	"context"
	"reflect"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

var base = time.Date(2024, 5, 6, 10, 0, 0, 0, time.UTC)

func pod(name string, phase corev1.PodPhase, ageMin int, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: metav1.NewTime(base.Add(time.Duration(ageMin) * time.Minute))},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: phase},
	}
}

type fixture struct {
	c      *Controller
	client *fake.Clientset
	clk    *clocktesting.FakeClock
}

func newFixture(t *testing.T, threshold int, nodes []string, pods ...*corev1.Pod) *fixture {
	t.Helper()
	client := fake.NewClientset()
	factory := informers.NewSharedInformerFactory(client, 0)
	clk := clocktesting.NewFakeClock(base.Add(time.Hour))
	c, err := NewController(client, factory, clk, threshold)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, n := range nodes {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}
		if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := factory.Core().V1().Nodes().Informer().GetIndexer().Add(node); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pods {
		if _, err := client.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := factory.Core().V1().Pods().Informer().GetIndexer().Add(p); err != nil {
			t.Fatal(err)
		}
	}
	client.ClearActions()
	return &fixture{c: c, client: client, clk: clk}
}

// deleted lists the force-deleted pods in deletion order.
func (f *fixture) deleted(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, a := range f.client.Actions() {
		d, ok := a.(k8stesting.DeleteActionImpl)
		if !ok {
			continue
		}
		if g := d.DeleteOptions.GracePeriodSeconds; g == nil || *g != 0 {
			t.Errorf("pod %s deleted with grace %v, want 0", d.Name, g)
		}
		out = append(out, d.Name)
	}
	return out
}

func TestTerminatedThresholdOrdering(t *testing.T) {
	evicted := pod("evicted-new", corev1.PodFailed, 50, "n1")
	evicted.Status.Reason = "Evicted"
	f := newFixture(t, 2, []string{"n1"},
		pod("ok-old", corev1.PodSucceeded, 1, "n1"),
		pod("failed-mid", corev1.PodFailed, 5, "n1"),
		pod("ok-new", corev1.PodSucceeded, 9, "n1"),
		evicted,
		pod("running-oldest", corev1.PodRunning, 0, "n1"),
		pod("pending", corev1.PodPending, 0, "n1"),
	)
	f.c.gc(context.Background())
	// 4 terminated, threshold 2: the evicted pod, then the oldest.
	if got, want := f.deleted(t), []string{"evicted-new", "ok-old"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("deleted = %v, want %v", got, want)
	}
}

func TestThresholdDisabledAndNotExceeded(t *testing.T) {
	for _, threshold := range []int{0, -1, 3} {
		f := newFixture(t, threshold, []string{"n1"},
			pod("a", corev1.PodSucceeded, 1, "n1"), pod("b", corev1.PodFailed, 2, "n1"), pod("c", corev1.PodSucceeded, 3, "n1"))
		f.c.gc(context.Background())
		if got := f.deleted(t); len(got) != 0 {
			t.Errorf("threshold %d: deleted %v", threshold, got)
		}
	}
}

func TestPodsOnMissingNode(t *testing.T) {
	f := newFixture(t, 0, []string{"alive"},
		pod("on-gone", corev1.PodRunning, 1, "gone"),
		pod("done-on-gone", corev1.PodSucceeded, 1, "gone"),
		pod("on-alive", corev1.PodRunning, 1, "alive"),
	)
	ctx := context.Background()
	f.c.gc(ctx)
	if got := f.deleted(t); len(got) != 0 {
		t.Fatalf("deleted during quarantine: %v", got)
	}
	f.clk.Step(quarantineTime)
	f.c.gc(ctx)
	got := f.deleted(t)
	sort.Strings(got)
	if want := []string{"done-on-gone", "on-gone"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("deleted = %v, want %v", got, want)
	}
	// The running pod was marked Failed with the DisruptionTarget condition first.
	var marked *corev1.Pod
	for _, a := range f.client.Actions() {
		if u, ok := a.(k8stesting.UpdateActionImpl); ok && u.GetSubresource() == "status" {
			marked = u.GetObject().(*corev1.Pod)
		}
	}
	if marked == nil || marked.Name != "on-gone" || marked.Status.Phase != corev1.PodFailed {
		t.Fatalf("status update = %+v", marked)
	}
	c := marked.Status.Conditions
	if len(c) != 1 || c[0].Type != corev1.DisruptionTarget || c[0].Reason != "DeletionByPodGC" || c[0].Message != "PodGC: node no longer exists" {
		t.Fatalf("conditions = %+v", c)
	}
}

func TestNodeReturningDuringQuarantine(t *testing.T) {
	f := newFixture(t, 0, nil, pod("p", corev1.PodRunning, 1, "late"))
	ctx := context.Background()
	f.c.gc(ctx)
	// The node registers (in the API, not yet in the cache).
	if _, err := f.client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "late"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.clk.Step(quarantineTime)
	f.c.gc(ctx)
	if got := f.deleted(t); len(got) != 0 {
		t.Fatalf("deleted pods of an existing node: %v", got)
	}
}

func TestUnscheduledTerminating(t *testing.T) {
	stuck := pod("stuck", corev1.PodPending, 1, "")
	stuck.DeletionTimestamp = &metav1.Time{Time: base}
	f := newFixture(t, 0, nil, stuck, pod("waiting", corev1.PodPending, 1, ""))
	f.c.gc(context.Background())
	if got := f.deleted(t); !reflect.DeepEqual(got, []string{"stuck"}) {
		t.Fatalf("deleted = %v", got)
	}
}
