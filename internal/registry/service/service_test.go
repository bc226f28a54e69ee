package service

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// The tutorials' services.
var seedServices = []string{`
metadata: {name: headless-svc}
spec:
  clusterIP: None
  selector:
    job-name: example-job
`, `
metadata:
  labels: {component: rabbitmq}
  name: rabbitmq-service
spec:
  ports:
  - port: 5672
  selector:
    app: taskQueue
    component: rabbitmq
`, `
metadata: {name: redis}
spec:
  ports:
    - port: 6379
      targetPort: 6379
  selector:
    app: redis
`}

func decode(t *testing.T, src string) *corev1.Service {
	t.Helper()
	var svc corev1.Service
	if err := yaml.NewYAMLOrJSONDecoder(strings.NewReader(src), 4096).Decode(&svc); err != nil {
		t.Fatal(err)
	}
	return &svc
}

func newStrategy(t *testing.T) strategy {
	a, err := NewStorageAllocator(newMemStore(), DefaultServiceCIDR)
	if err != nil {
		t.Fatal(err)
	}
	return strategy{alloc: a}
}

func create(t *testing.T, s strategy, svc *corev1.Service) error {
	t.Helper()
	ctx := context.Background()
	s.Default(svc)
	s.PrepareForCreate(ctx, svc)
	if errs := s.Validate(ctx, svc); len(errs) > 0 {
		return errs.ToAggregate()
	}
	return s.Admit(ctx, svc, nil)
}

func TestSeedServices(t *testing.T) {
	s := newStrategy(t)
	for i, src := range seedServices {
		svc := decode(t, src)
		if err := create(t, s, svc); err != nil {
			t.Fatalf("service %d: %v", i, err)
		}
		if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.SessionAffinity != corev1.ServiceAffinityNone ||
			*svc.Spec.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyCluster ||
			*svc.Spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack || svc.Spec.IPFamilies[0] != corev1.IPv4Protocol {
			t.Errorf("service %d defaults: %+v", i, svc.Spec)
		}
		for _, p := range svc.Spec.Ports {
			if p.Protocol != corev1.ProtocolTCP || p.TargetPort != intstr.FromInt32(p.Port) {
				t.Errorf("service %d port defaults: %+v", i, p)
			}
		}
		if i == 0 && (svc.Spec.ClusterIP != "None" || svc.Spec.ClusterIPs[0] != "None") {
			t.Errorf("headless clusterIP = %q %v", svc.Spec.ClusterIP, svc.Spec.ClusterIPs)
		}
		if i > 0 && !strings.HasPrefix(svc.Spec.ClusterIP, "10.43.") {
			t.Errorf("clusterIP = %q", svc.Spec.ClusterIP)
		}
	}
}

func TestValidation(t *testing.T) {
	port := func(p int32) []corev1.ServicePort { return []corev1.ServicePort{{Port: p}} }
	cases := []struct {
		name string
		spec corev1.ServiceSpec
		want string
	}{
		{"no ports", corev1.ServiceSpec{Selector: map[string]string{"a": "b"}}, "spec.ports: Required value"},
		{"headless without ports", corev1.ServiceSpec{ClusterIP: "None"}, ""},
		{"bad port", corev1.ServiceSpec{Ports: port(0)}, "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"},
		{"unnamed ports", corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}, {Port: 81}}}, "spec.ports[0].name: Required value"},
		{"bad type", corev1.ServiceSpec{Type: "Magic", Ports: port(80)}, `spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`},
		{"bad clusterIP", corev1.ServiceSpec{ClusterIP: "10.43.0.300", Ports: port(80)}, `spec.clusterIPs[0]: Invalid value: "10.43.0.300": must be empty, 'None', or a valid IP address`},
		{"externalName missing", corev1.ServiceSpec{Type: "ExternalName"}, "spec.externalName: Required value"},
		{"nodePort on ClusterIP", corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80, NodePort: 30000}}}, "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"},
		{"bad selector", corev1.ServiceSpec{Ports: port(80), Selector: map[string]string{"a": "b c"}}, `spec.selector: Invalid value: "b c"`},
	}
	for _, c := range cases {
		svc := &corev1.Service{Spec: c.spec}
		setDefaults(svc)
		errs := validateService(svc)
		got := ""
		if len(errs) > 0 {
			got = errs[0].Error()
		}
		if (c.want == "") != (got == "") || !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestClusterIPLifecycle(t *testing.T) {
	ctx := context.Background()
	s := newStrategy(t)
	fixed := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.10", Ports: []corev1.ServicePort{{Port: 80}}}}
	if err := create(t, s, fixed); err != nil {
		t.Fatal(err)
	}
	dup := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.10", Ports: []corev1.ServicePort{{Port: 80}}}}
	err := create(t, s, dup)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "failed to allocate IP 10.43.0.10: provided IP is already allocated") {
		t.Fatalf("duplicate clusterIP: %v", err)
	}
	out := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: corev1.ServiceSpec{ClusterIP: "192.168.0.1", Ports: []corev1.ServicePort{{Port: 80}}}}
	if err := create(t, s, out); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "The range of valid IPs is 10.43.0.0/16") {
		t.Fatalf("out of range: %v", err)
	}

	// A PUT of the original manifest keeps the allocated IP; changing it fails.
	upd := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	s.Default(upd)
	s.PrepareForUpdate(ctx, upd, fixed)
	if errs := s.ValidateUpdate(ctx, upd, fixed); len(errs) > 0 || upd.Spec.ClusterIP != "10.43.0.10" {
		t.Errorf("update: %v, clusterIP %q", errs, upd.Spec.ClusterIP)
	}
	moved := fixed.DeepCopy()
	moved.Spec.ClusterIP, moved.Spec.ClusterIPs = "10.43.0.11", []string{"10.43.0.11"}
	if errs := s.ValidateUpdate(ctx, moved, fixed); len(errs) != 1 || errs[0].Error() != `spec.clusterIPs[0]: Invalid value: "10.43.0.11": may not change once set` {
		t.Errorf("clusterIP change: %v", errs)
	}

	if err := s.AfterDelete(ctx, fixed); err != nil {
		t.Fatal(err)
	}
	if err := create(t, s, dup); err != nil {
		t.Errorf("IP not reusable after delete: %v", err)
	}
}

func TestTable(t *testing.T) {
	now := time.Now()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "redis", CreationTimestamp: metav1.NewTime(now.Add(-time.Hour))},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIPs: []string{"10.43.12.7"},
			Ports: []corev1.ServicePort{{Port: 6379, Protocol: "TCP"}}, Selector: map[string]string{"app": "redis"}},
	}
	row, err := table{}.Row(svc, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []interface{}{"redis", "ClusterIP", "10.43.12.7", "<none>", "6379/TCP", "60m", "app=redis"}
	for i := range want {
		if row[i] != want[i] {
			t.Errorf("cell %d = %v, want %v", i, row[i], want[i])
		}
	}
	headless := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIPs: []string{"None"}}}
	row, _ = table{}.Row(headless, now)
	if row[2] != "None" || row[4] != "<none>" || row[6] != "<none>" {
		t.Errorf("headless row = %v", row)
	}
	lb := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: "TCP"}, {Port: 53, Protocol: "UDP"}}}}
	row, _ = table{}.Row(lb, now)
	if row[3] != "<pending>" || row[4] != "80:30080/TCP,53/UDP" {
		t.Errorf("lb row = %v", row)
	}
}
