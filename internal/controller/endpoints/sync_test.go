package endpoints

import (
	"context"
	"reflect"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8stesting "k8s.io/client-go/testing"
)

var web = map[string]string{"app": "web"}

func TestReadyAndNotReadyAddresses(t *testing.T) {
	svc := service("web", web, tcpPort("http", 80, intstr.FromInt32(8080)))
	f := newFixture(t, svc,
		pod("b", "10.0.0.2", true),
		pod("a", "10.0.0.1", true),
		pod("c", "10.0.0.3", false),
		pod("noip", "", true),
		pod("done", "10.0.0.4", true, withPhase(corev1.PodSucceeded)),
		pod("other", "10.0.0.5", true, withLabels(map[string]string{"app": "db"})),
	)
	ep := f.syncAndGet(t, "web")
	if len(ep.Subsets) != 1 {
		t.Fatalf("subsets = %+v, want one", ep.Subsets)
	}
	s := ep.Subsets[0]
	if got, want := ips(s.Addresses), []string{"10.0.0.1", "10.0.0.2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("addresses = %v, want %v", got, want)
	}
	if got, want := ips(s.NotReadyAddresses), []string{"10.0.0.3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("notReadyAddresses = %v, want %v", got, want)
	}
	if want := []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}}; !reflect.DeepEqual(s.Ports, want) {
		t.Errorf("ports = %+v, want %+v", s.Ports, want)
	}
	a := s.Addresses[0]
	if a.NodeName == nil || *a.NodeName != "node-1" {
		t.Errorf("nodeName = %v, want node-1", a.NodeName)
	}
	if a.TargetRef == nil || a.TargetRef.Kind != "Pod" || a.TargetRef.Name != "a" || a.TargetRef.UID != "uid-a" {
		t.Errorf("targetRef = %+v", a.TargetRef)
	}
	if _, ok := ep.Labels[corev1.IsHeadlessService]; ok {
		t.Errorf("service with a cluster IP labelled headless: %v", ep.Labels)
	}
	if got := ep.Annotations[corev1.EndpointsLastChangeTriggerTime]; got != base.Format(time.RFC3339Nano) {
		t.Errorf("trigger time = %q, want the service creation time", got)
	}
}

func TestPublishNotReadyAddresses(t *testing.T) {
	svc := headless("web", web)
	svc.Spec.PublishNotReadyAddresses = true
	f := newFixture(t, svc, pod("a", "10.0.0.1", false))
	ep := f.syncAndGet(t, "web")
	if len(ep.Subsets) != 1 || !reflect.DeepEqual(ips(ep.Subsets[0].Addresses), []string{"10.0.0.1"}) || len(ep.Subsets[0].Ports) != 0 {
		t.Fatalf("subsets = %+v, want the unready pod as a ready address without ports", ep.Subsets)
	}
	if _, ok := ep.Labels[corev1.IsHeadlessService]; !ok {
		t.Errorf("headless service endpoints lack %s: %v", corev1.IsHeadlessService, ep.Labels)
	}
}

func TestHostnameOnlyForMatchingSubdomain(t *testing.T) {
	svc := headless("headless-svc", web)
	f := newFixture(t, svc,
		pod("example-job-0-abc", "10.0.0.1", true, withHost("example-job-0", "headless-svc")),
		pod("example-job-1-def", "10.0.0.2", true, withHost("example-job-1", "other")),
	)
	ep := f.syncAndGet(t, "headless-svc")
	got := map[string]string{}
	for _, a := range ep.Subsets[0].Addresses {
		got[a.IP] = a.Hostname
	}
	want := map[string]string{"10.0.0.1": "example-job-0", "10.0.0.2": ""}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("hostnames = %v, want %v", got, want)
	}
}

func TestNamedTargetPort(t *testing.T) {
	svc := service("web", web,
		tcpPort("http", 80, intstr.FromString("http")),
		tcpPort("metrics", 9090, intstr.FromString("metrics")))
	withMetrics := pod("b", "10.0.0.2", true)
	withMetrics.Spec.Containers[0].Ports = append(withMetrics.Spec.Containers[0].Ports,
		corev1.ContainerPort{Name: "metrics", ContainerPort: 9100, Protocol: corev1.ProtocolTCP})
	f := newFixture(t, svc, pod("a", "10.0.0.1", true), withMetrics)
	ep := f.syncAndGet(t, "web")
	// a offers only http, b offers both: two subsets.
	got := map[string][]string{}
	for _, s := range ep.Subsets {
		var ports []string
		for _, p := range s.Ports {
			ports = append(ports, p.Name+":"+itoa(int(p.Port)))
		}
		for _, ip := range ips(s.Addresses) {
			got[ip] = ports
		}
	}
	want := map[string][]string{"10.0.0.1": {"http:8080"}, "10.0.0.2": {"http:8080", "metrics:9100"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ports by address = %v, want %v", got, want)
	}
}

func TestNoWriteWhenUnchanged(t *testing.T) {
	svc := service("web", web, tcpPort("http", 80, intstr.FromInt32(8080)))
	p := pod("a", "10.0.0.1", true)
	f := newFixture(t, svc, p)
	f.syncAndGet(t, "web")
	f.client.ClearActions()
	// A pod update that changes only its resourceVersion.
	p2 := p.DeepCopy()
	p2.ResourceVersion = "99"
	f.cache(t, p2)
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	for _, a := range f.client.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
			t.Errorf("unexpected write %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}
}

func TestSelectorChange(t *testing.T) {
	svc := service("web", web, tcpPort("http", 80, intstr.FromInt32(8080)))
	f := newFixture(t, svc,
		pod("a", "10.0.0.1", true),
		pod("d", "10.0.0.9", true, withLabels(map[string]string{"app": "db"})))
	f.syncAndGet(t, "web")
	svc2 := svc.DeepCopy()
	svc2.Spec.Selector = map[string]string{"app": "db"}
	f.cache(t, svc2)
	ep := f.syncAndGet(t, "web")
	if got := ips(ep.Subsets[0].Addresses); !reflect.DeepEqual(got, []string{"10.0.0.9"}) {
		t.Errorf("addresses after selector change = %v, want [10.0.0.9]", got)
	}
}

func TestServiceDeletionDeletesEndpoints(t *testing.T) {
	svc := service("web", web, tcpPort("http", 80, intstr.FromInt32(8080)))
	f := newFixture(t, svc, pod("a", "10.0.0.1", true))
	f.syncAndGet(t, "web")
	if err := f.factory.Core().V1().Services().Informer().GetIndexer().Delete(svc); err != nil {
		t.Fatal(err)
	}
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	_, err := f.client.CoreV1().Endpoints("default").Get(context.Background(), "web", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("endpoints after service deletion: err = %v, want NotFound", err)
	}
}

func TestServicesWithoutSelectorAreLeftAlone(t *testing.T) {
	manual := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "ext", Namespace: "default"},
		Subsets:    []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "192.0.2.1"}}}},
	}
	f := newFixture(t, service("ext", nil), manual)
	if err := f.c.sync(context.Background(), "default/ext"); err != nil {
		t.Fatal(err)
	}
	for _, a := range f.client.Actions() {
		if _, ok := a.(k8stesting.GetAction); ok {
			continue
		}
		if a.GetVerb() == "list" || a.GetVerb() == "watch" {
			continue
		}
		t.Errorf("unexpected %s on %s", a.GetVerb(), a.GetResource().Resource)
	}
}

func TestTruncation(t *testing.T) {
	var pods []*corev1.Pod
	for i := 0; i < maxCapacity+5; i++ {
		ip := "10." + itoa(i/65536) + "." + itoa(i/256%256) + "." + itoa(i%256)
		pods = append(pods, pod("p"+itoa(i), ip, i%2 == 0))
	}
	svc := service("web", web, tcpPort("http", 80, intstr.FromInt32(8080)))
	ep := desiredEndpoints(svc, pods, nil, time.Time{})
	n := 0
	for _, s := range ep.Subsets {
		n += len(s.Addresses) + len(s.NotReadyAddresses)
		if len(s.Addresses) != (maxCapacity+5+1)/2 {
			t.Errorf("ready addresses = %d, want all %d kept", len(s.Addresses), (maxCapacity+5+1)/2)
		}
	}
	if n != maxCapacity {
		t.Errorf("addresses = %d, want %d", n, maxCapacity)
	}
	if ep.Annotations[corev1.EndpointsOverCapacity] != "truncated" {
		t.Errorf("annotations = %v, want over-capacity truncated", ep.Annotations)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
