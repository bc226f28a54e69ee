package agent

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

func TestServiceEnv(t *testing.T) {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, s := range []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "redis-master", Namespace: "ns"}, Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.20",
			Ports: []corev1.ServicePort{{Name: "redis", Port: 6379, Protocol: corev1.ProtocolTCP}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "headless", Namespace: "ns"}, Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone,
			Ports: []corev1.ServicePort{{Port: 80}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "elsewhere"}, Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.30",
			Ports: []corev1.ServicePort{{Port: 80}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"}, Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.1",
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}}}},
	} {
		if err := idx.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	lister := corelisters.NewServiceLister(idx)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
	got := serviceEnv(lister, pod)
	want := map[string]string{
		"REDIS_MASTER_SERVICE_HOST":        "10.43.0.20",
		"REDIS_MASTER_SERVICE_PORT":        "6379",
		"REDIS_MASTER_SERVICE_PORT_REDIS":  "6379",
		"REDIS_MASTER_PORT":                "tcp://10.43.0.20:6379",
		"REDIS_MASTER_PORT_6379_TCP":       "tcp://10.43.0.20:6379",
		"REDIS_MASTER_PORT_6379_TCP_PROTO": "tcp",
		"REDIS_MASTER_PORT_6379_TCP_PORT":  "6379",
		"REDIS_MASTER_PORT_6379_TCP_ADDR":  "10.43.0.20",
		"KUBERNETES_SERVICE_HOST":          "10.43.0.1",
		"KUBERNETES_SERVICE_PORT":          "443",
		"KUBERNETES_SERVICE_PORT_HTTPS":    "443",
		"KUBERNETES_PORT":                  "tcp://10.43.0.1:443",
		"KUBERNETES_PORT_443_TCP":          "tcp://10.43.0.1:443",
		"KUBERNETES_PORT_443_TCP_PROTO":    "tcp",
		"KUBERNETES_PORT_443_TCP_PORT":     "443",
		"KUBERNETES_PORT_443_TCP_ADDR":     "10.43.0.1",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d variables, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	off := false
	pod.Spec.EnableServiceLinks = &off
	if got := serviceEnv(lister, pod); got["REDIS_MASTER_SERVICE_HOST"] != "" || got["KUBERNETES_SERVICE_HOST"] == "" {
		t.Fatalf("enableServiceLinks=false: %v", got)
	}
}
