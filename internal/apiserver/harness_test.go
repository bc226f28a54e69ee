package apiserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
)

type testEnv struct {
	srv    *httptest.Server
	store  *memStore
	clock  *clocktesting.FakeClock
	client kubernetes.Interface
	dyn    dynamic.Interface
	config *rest.Config
	api    *server
}

var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// newTestEnv starts a server with the test kinds and a "default" namespace.
func newTestEnv(t *testing.T, mutate ...func(*Config)) *testEnv {
	t.Helper()
	env := &testEnv{store: newMemStore(), clock: clocktesting.NewFakeClock(testNow)}
	cfg := Config{Storage: env.store, Resources: testResources(), Clock: env.clock}
	for _, m := range mutate {
		m(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	env.api = h.(*server)
	env.api.watch.bookmarkInterval = 50 * time.Millisecond
	env.srv = httptest.NewServer(h)
	t.Cleanup(env.srv.Close)
	env.config = &rest.Config{Host: env.srv.URL, QPS: -1, BearerToken: "good"}
	env.client = kubernetes.NewForConfigOrDie(env.config)
	env.dyn = dynamic.NewForConfigOrDie(env.config)
	if _, err := env.client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace default: %v", err)
	}
	return env
}

// do sends a raw request and returns the response with its body read.
func (env *testEnv) do(t *testing.T, method, path, contentType string, body []byte, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, env.srv.URL+path, bytesReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := readAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}
