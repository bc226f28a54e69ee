package server_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/batchlet/batchlet/internal/server"
	"github.com/batchlet/batchlet/internal/server/servertest"
)

// contentTypes records the Content-Type of each request with a body.
type contentTypes struct {
	mu   sync.Mutex
	seen map[string]string // "METHOD path" → Content-Type
	next http.RoundTripper
}

func (c *contentTypes) RoundTrip(r *http.Request) (*http.Response, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		c.mu.Lock()
		c.seen[r.Method+" "+r.URL.Path] = ct
		c.mu.Unlock()
	}
	return c.next.RoundTrip(r)
}

func (c *contentTypes) of(key string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[key]
}

// TestClientsSendProtobuf: the configuration in-process components use
// and the loopback TLS one send every body as protobuf, including the
// calls generated clients leave to the configured content type (events,
// pod bindings, delete options), and the apiserver takes them; patches
// keep their JSON types.
func TestClientsSendProtobuf(t *testing.T) {
	s := servertest.Start(t, func(c *server.Config) { c.DisableAgent = true })
	for _, c := range []struct {
		name string
		cfg  *rest.Config
	}{
		{"inproc", s.ComponentConfig()},
		{"tls", s.RESTConfig()},
	} {
		t.Run(c.name, func(t *testing.T) { sendBodies(t, c.cfg, c.name, "application/vnd.kubernetes.protobuf") })
	}
}

func sendBodies(t *testing.T, cfg *rest.Config, name, want string) {
	ctx := context.Background()
	rec := &contentTypes{seen: map[string]string{}}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { rec.next = rt; return rec })
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pods := client.CoreV1().Pods("default")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// What the server stored is its own: the client's object may change.
	pod.Spec.Containers[0].Image = "changed-after-create"
	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name}, Target: corev1.ObjectReference{Kind: "Node", Name: "elsewhere"}}
	if err := pods.Bind(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name + ".1", Namespace: "default"}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: name},
		Reason: "Scheduled", Message: "assigned", Type: corev1.EventTypeNormal, Source: corev1.EventSource{Component: "test"}}
	if _, err := client.CoreV1().Events("default").CreateWithEventNamespace(ev); err != nil {
		t.Fatalf("event: %v", err)
	}
	if _, err := pods.Patch(ctx, name, types.StrategicMergePatchType, []byte(`{"metadata":{"labels":{"a":"b"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch: %v", err)
	}
	for key, want := range map[string]string{
		"POST /api/v1/namespaces/default/pods":                      want,
		"POST /api/v1/namespaces/default/pods/" + name + "/binding": want,
		"POST /api/v1/namespaces/default/events":                    want,
		"PATCH /api/v1/namespaces/default/pods/" + name:             "application/strategic-merge-patch+json",
	} {
		if got := rec.of(key); !strings.HasPrefix(got, want) {
			t.Errorf("%s sent as %q, want %s", key, got, want)
		}
	}
	got, err := pods.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.NodeName != "elsewhere" || got.Labels["a"] != "b" || got.Spec.Containers[0].Image != "busybox" {
		t.Errorf("pod after binding and patch: node %q, labels %v, image %q", got.Spec.NodeName, got.Labels, got.Spec.Containers[0].Image)
	}
	if _, err := client.CoreV1().Events("default").Get(ctx, name+".1", metav1.GetOptions{}); err != nil {
		t.Errorf("event not stored: %v", err)
	}
	gone := int64(0)
	if err := pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &gone}); err != nil {
		t.Errorf("delete with options in the body: %v", err)
	}
	if rec.of("DELETE /api/v1/namespaces/default/pods/"+name) != want {
		t.Errorf("delete options sent as %q, want %s", rec.of("DELETE /api/v1/namespaces/default/pods/"+name), want)
	}
}
