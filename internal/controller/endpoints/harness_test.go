package endpoints

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
)

var base = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

type fixture struct {
	c       *Controller
	client  *fake.Clientset
	factory informers.SharedInformerFactory
	clk     *clocktesting.FakeClock
}

// newFixture builds a controller whose caches hold objs (also present in
// the fake API).
func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	clk := clocktesting.NewFakeClock(base)
	c, err := NewController(client, factory, clk)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{c: c, client: client, factory: factory, clk: clk}
	for _, o := range objs {
		f.cache(t, o)
	}
	return f
}

// cache puts obj into the informer cache that the controller reads.
func (f *fixture) cache(t *testing.T, obj runtime.Object) {
	t.Helper()
	var err error
	switch o := obj.(type) {
	case *corev1.Pod:
		err = f.factory.Core().V1().Pods().Informer().GetIndexer().Add(o)
	case *corev1.Service:
		err = f.factory.Core().V1().Services().Informer().GetIndexer().Add(o)
	case *corev1.Endpoints:
		err = f.factory.Core().V1().Endpoints().Informer().GetIndexer().Add(o)
	default:
		t.Fatalf("unexpected %T", obj)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// syncAndGet syncs default/name and returns the stored Endpoints, also
// copying it into the cache as an informer would.
func (f *fixture) syncAndGet(t *testing.T, name string) *corev1.Endpoints {
	t.Helper()
	if err := f.c.sync(context.Background(), "default/"+name); err != nil {
		t.Fatalf("sync: %v", err)
	}
	ep, err := f.client.CoreV1().Endpoints("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get endpoints: %v", err)
	}
	f.cache(t, ep)
	return ep
}

func service(name string, selector map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("svc-" + name), CreationTimestamp: metav1.NewTime(base)},
		Spec:       corev1.ServiceSpec{Selector: selector, ClusterIP: "10.43.0.20", Ports: ports},
	}
}

func headless(name string, selector map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	s := service(name, selector, ports...)
	s.Spec.ClusterIP = corev1.ClusterIPNone
	return s
}

func tcpPort(name string, port int32, target intstr.IntOrString) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, Protocol: corev1.ProtocolTCP, TargetPort: target}
}

type podOpt func(*corev1.Pod)

func pod(name, ip string, ready bool, opts ...podOpt) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{
			Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
		}}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.NewTime(base.Add(time.Minute))}},
		},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func withHost(hostname, subdomain string) podOpt {
	return func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = hostname, subdomain }
}

func withLabels(l map[string]string) podOpt {
	return func(p *corev1.Pod) { p.Labels = l }
}

func withPhase(ph corev1.PodPhase) podOpt {
	return func(p *corev1.Pod) { p.Status.Phase = ph }
}

func ips(as []corev1.EndpointAddress) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.IP)
	}
	return out
}

func everything() labels.Selector { return labels.Everything() }
