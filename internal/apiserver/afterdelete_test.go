package apiserver

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/batchlet/batchlet/internal/registry/service"
	"github.com/batchlet/batchlet/internal/storage"
)

// serviceEnv serves the real service registry, allocating from a /29
// (6 addresses) so a leak shows quickly.
func serviceEnv(t *testing.T) (*testEnv, *service.StorageAllocator) {
	t.Helper()
	var alloc *service.StorageAllocator
	env := newTestEnv(t, func(cfg *Config) {
		a, err := service.NewStorageAllocator(cfg.Storage, "10.0.0.0/29")
		if err != nil {
			t.Fatal(err)
		}
		alloc = a
		cfg.Resources = append(cfg.Resources, service.Resource(a))
	})
	return env, alloc
}

func newService(name string, finalizers ...string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Finalizers: finalizers},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Port: 80}},
		},
	}
}

// isAllocated probes the allocator's bitmap for ip.
func isAllocated(t *testing.T, a *service.StorageAllocator, ip string) bool {
	t.Helper()
	addr := netip.MustParseAddr(ip)
	switch err := a.AllocateIP(context.Background(), addr); {
	case err == nil:
		if err := a.Release(context.Background(), addr); err != nil {
			t.Fatal(err)
		}
		return false
	case errors.Is(err, service.ErrAllocated):
		return true
	default:
		t.Fatalf("probing %s: %v", ip, err)
	}
	return false
}

func TestServiceIPReleasedOnDelete(t *testing.T) {
	env, alloc := serviceEnv(t)
	ctx := context.Background()
	svcs := env.client.CoreV1().Services("default")
	// More rounds than the range has addresses: each delete must release.
	for i := 0; i < 10; i++ {
		svc, err := svcs.Create(ctx, newService("web"), metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("round %d create: %v", i, err)
		}
		if !isAllocated(t, alloc, svc.Spec.ClusterIP) {
			t.Fatalf("round %d: %s not allocated after create", i, svc.Spec.ClusterIP)
		}
		if err := svcs.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
			t.Fatalf("round %d delete: %v", i, err)
		}
		if isAllocated(t, alloc, svc.Spec.ClusterIP) {
			t.Fatalf("round %d: %s still allocated after delete", i, svc.Spec.ClusterIP)
		}
	}
}

func TestServiceIPReleasedOnDeleteCollection(t *testing.T) {
	env, alloc := serviceEnv(t)
	ctx := context.Background()
	svcs := env.client.CoreV1().Services("default")
	var ips []string
	for _, n := range []string{"a", "b", "c"} {
		svc, err := svcs.Create(ctx, newService(n), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ips = append(ips, svc.Spec.ClusterIP)
	}
	if resp, body := env.do(t, http.MethodDelete, "/api/v1/namespaces/default/services", "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("deletecollection: %d %s", resp.StatusCode, body)
	}
	for _, ip := range ips {
		if isAllocated(t, alloc, ip) {
			t.Errorf("%s still allocated after deletecollection", ip)
		}
	}
}

func TestServiceIPReleasedWhenLastFinalizerGoes(t *testing.T) {
	env, alloc := serviceEnv(t)
	ctx := context.Background()
	svcs := env.client.CoreV1().Services("default")
	svc, err := svcs.Create(ctx, newService("held", "example.com/hold"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := svcs.Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if !isAllocated(t, alloc, svc.Spec.ClusterIP) {
		t.Fatal("released while a finalizer still holds the service")
	}
	cur, err := svcs.Get(ctx, "held", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Finalizers = nil
	if _, err := svcs.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svcs.Get(ctx, "held", metav1.GetOptions{}); err == nil {
		t.Fatal("service still stored after its last finalizer went")
	}
	if isAllocated(t, alloc, svc.Spec.ClusterIP) {
		t.Error("cluster IP still allocated after the service was removed")
	}
}

func TestServiceDryRunAllocatesNothing(t *testing.T) {
	env, alloc := serviceEnv(t)
	ctx := context.Background()
	svcs := env.client.CoreV1().Services("default")
	fixed := newService("fixed")
	fixed.Spec.ClusterIP = "10.0.0.3"
	for _, svc := range []*corev1.Service{newService("auto"), fixed} {
		if _, err := svcs.Create(ctx, svc, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Fatalf("dry run %s: %v", svc.Name, err)
		}
	}
	for i := 1; i <= 6; i++ {
		if ip := netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}).String(); isAllocated(t, alloc, ip) {
			t.Errorf("dry run allocated %s", ip)
		}
	}
	// Nor does a dry-run update turning a service into ExternalName free it.
	svc, err := svcs.Create(ctx, fixed, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}
	if _, err := svcs.Update(ctx, svc, metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatalf("dry-run update: %v", err)
	}
	if !isAllocated(t, alloc, "10.0.0.3") {
		t.Error("dry-run update released the cluster IP")
	}
}

// failingCreateStore fails creates of services with a storage error.
type failingCreateStore struct{ *memStore }

func (f failingCreateStore) Create(ctx context.Context, key string, obj runtime.Object) (runtime.Object, error) {
	if strings.Contains(key, "/services/") {
		return nil, errors.New("disk on fire")
	}
	return f.memStore.Create(ctx, key, obj)
}

func TestServiceIPReleasedWhenCreateFails(t *testing.T) {
	env, alloc := serviceEnv(t)
	env.api.store = failingCreateStore{env.store}
	fixed := newService("fixed")
	fixed.Spec.ClusterIP = "10.0.0.4"
	for _, svc := range []*corev1.Service{newService("auto"), fixed} {
		_, err := env.client.CoreV1().Services("default").Create(context.Background(), svc, metav1.CreateOptions{})
		if err == nil {
			t.Fatalf("create %s succeeded on a failing store", svc.Name)
		}
	}
	for i := 1; i <= 6; i++ {
		if ip := netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}).String(); isAllocated(t, alloc, ip) {
			t.Errorf("%s leaked by a failed create", ip)
		}
	}
}

var _ storage.Interface = failingCreateStore{}
