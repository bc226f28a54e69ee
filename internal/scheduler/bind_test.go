package scheduler

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/utils/clock"
)

// gatedClient holds every pods/binding call until want calls are in
// flight together (or a deadline passes), and records the most seen.
type gatedClient struct {
	*fake.Clientset
	gate *bindGate
}

type bindGate struct {
	mu       sync.Mutex
	want     int
	inFlight int
	most     int
	open     chan struct{}
	opened   bool
}

func (c gatedClient) CoreV1() typedcorev1.CoreV1Interface {
	return gatedCore{CoreV1Interface: c.Clientset.CoreV1(), gate: c.gate}
}

type gatedCore struct {
	typedcorev1.CoreV1Interface
	gate *bindGate
}

func (c gatedCore) Pods(ns string) typedcorev1.PodInterface {
	return gatedPods{PodInterface: c.CoreV1Interface.Pods(ns), gate: c.gate}
}

type gatedPods struct {
	typedcorev1.PodInterface
	gate *bindGate
}

func (p gatedPods) Bind(ctx context.Context, b *corev1.Binding, opts metav1.CreateOptions) error {
	g := p.gate
	g.mu.Lock()
	g.inFlight++
	g.most = max(g.most, g.inFlight)
	// A pod the fake leaves unbound may be bound again later, so the
	// count can reach want more than once.
	if g.inFlight == g.want && !g.opened {
		close(g.open)
		g.opened = true
	}
	g.mu.Unlock()
	select {
	case <-g.open:
	case <-time.After(5 * time.Second):
	}
	g.mu.Lock()
	g.inFlight--
	g.mu.Unlock()
	return p.PodInterface.Bind(ctx, b, opts)
}

var _ kubernetes.Interface = gatedClient{}

// newWithNode makes a scheduler on client, with its informers not yet
// started, and node "a" in fc, the fake behind client.
func newWithNode(t *testing.T, client kubernetes.Interface, fc *fake.Clientset) (*Scheduler, informers.SharedInformerFactory, context.Context, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	factory := informers.NewSharedInformerFactory(client, 0)
	s, err := New(client, factory, clock.RealClock{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fc.CoreV1().Nodes().Create(ctx, node("a"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return s, factory, ctx, cancel
}

// TestBindsRunBesideDecisions: with binds slower than decisions, more pods
// are in their bind at once than there are workers, so the placement rate
// is not one API round trip per worker.
func TestBindsRunBesideDecisions(t *testing.T) {
	const pods = 12 // more than the 4 workers
	fc := fake.NewClientset()
	gate := &bindGate{want: pods, open: make(chan struct{})}
	client := gatedClient{Clientset: fc, gate: gate}
	s, factory, ctx, cancel := newWithNode(t, client, fc)
	for i := 0; i < pods; i++ {
		p := pod(func(p *corev1.Pod) { p.Name, p.UID = fmt.Sprintf("p%d", i), types.UID(fmt.Sprint("uid", i)) })
		if _, err := fc.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { s.Run(ctx, 4); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, ctx, "every pod to reach its bind", func() bool {
		gate.mu.Lock()
		defer gate.mu.Unlock()
		return gate.most == pods
	})
	// The fake clientset's binding does not set nodeName; the pods' binds
	// all went out, which is what is asserted.
	waitFor(t, ctx, "binds to finish", func() bool {
		n := 0
		for _, a := range fc.Actions() {
			if a.GetVerb() == "create" && a.GetSubresource() == "binding" {
				n++
			}
		}
		return n == pods
	})
}

// TestBoundPodIsNotBoundAgainBeforeTheInformerShowsIt: after a bind
// succeeds, the lister shows the pod pending until the informer sees the
// bind; an event for the pod in that window must not bind it again.
func TestBoundPodIsNotBoundAgainBeforeTheInformerShowsIt(t *testing.T) {
	client := fake.NewClientset() // its binding leaves spec.nodeName unset
	s, factory, ctx, _ := newWithNode(t, client, client)
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	binds := func() int {
		n := 0
		for _, a := range client.Actions() {
			if a.GetVerb() == "create" && a.GetSubresource() == "binding" {
				n++
			}
		}
		return n
	}
	scheduleAndWait := func() {
		t.Helper()
		if err := s.scheduleOne(ctx, "default/p"); err != nil {
			t.Fatal(err)
		}
		s.bindWG.Wait()
	}

	scheduleAndWait()
	if got := binds(); got != 1 {
		t.Fatalf("%d binds after the first decision, want 1", got)
	}
	// An update of the still-pending pod, as the informer delivers it.
	scheduleAndWait()
	if got := binds(); got != 1 {
		t.Fatalf("%d binds after an event before the informer saw the bind, want 1", got)
	}

	// Once the informer shows the pod bound, the mark is gone; a pod of
	// the same name made again after a delete is scheduled afresh.
	bound := pod(func(p *corev1.Pod) { p.Spec.NodeName = "a" })
	s.onPod(bound)
	s.mu.Lock()
	marked := s.binding["default/p"]
	s.mu.Unlock()
	if marked {
		t.Fatal("the pod is still marked binding after the informer showed it bound")
	}
	s.onPodDelete(bound)
	scheduleAndWait()
	if got := binds(); got != 2 {
		t.Fatalf("%d binds after the pod was made again, want 2", got)
	}
}
