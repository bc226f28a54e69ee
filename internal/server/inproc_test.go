package server_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/batchlet/batchlet/internal/server"
	"github.com/batchlet/batchlet/internal/server/servertest"
)

// TestComponentsNeedNoListener: with the apiserver's listener and all its
// connections closed, the controllers, the scheduler and the local agent
// still run a Job to completion, so none of them reaches the apiserver
// over the network.
func TestComponentsNeedNoListener(t *testing.T) {
	s := servertest.Start(t)
	ctx := context.Background()
	if err := s.StopServingNetwork(); err != nil {
		t.Fatalf("closing the listener: %v", err)
	}
	if _, err := s.Client.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err == nil {
		t.Fatal("the listener still answers after it was closed")
	}
	client, err := kubernetes.NewForConfig(s.ComponentConfig())
	if err != nil {
		t.Fatal(err)
	}
	before := s.InProcessRequests()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "offline"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sh", "-c", "echo done"}}},
		}}},
	}
	if _, err := client.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "job complete without the listener", func() (bool, error) {
		j, err := client.BatchV1().Jobs("default").Get(ctx, "offline", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "job-name=offline"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods: %v %v", pods, err)
	}
	logs, err := client.CoreV1().Pods("default").GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil || strings.TrimSpace(string(logs)) != "done" {
		t.Fatalf("log %q: %v", logs, err)
	}
	if s.InProcessRequests() <= before {
		t.Fatalf("in-process requests did not grow: %d → %d", before, s.InProcessRequests())
	}
}

// TestNetworkRequestsStillAuthenticate: beside the in-process transport,
// the listener answers an anonymous request with 401 and a Status body, as
// before.
func TestNetworkRequestsStillAuthenticate(t *testing.T) {
	s := servertest.Start(t, func(c *server.Config) { c.DisableAgent = true })
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer tr.CloseIdleConnections()
	for _, h := range []http.Header{
		{},
		{"Authorization": {"Bearer system:batchlet-loopback"}},
		{"X-Remote-User": {"system:batchlet-loopback"}, "Impersonate-User": {"system:batchlet-loopback"}},
	} {
		req, err := http.NewRequest(http.MethodGet, s.URL()+"/api/v1/namespaces", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = h
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("headers %v: status %d, want 401", h, resp.StatusCode)
		}
	}
}

// TestInProcessWatchOpenClose opens client-go watches through the
// components' configuration, receives an event on each and stops it, many
// times; the apiserver's watch handlers end with them.
func TestInProcessWatchOpenClose(t *testing.T) {
	s := servertest.Start(t, func(c *server.Config) { c.DisableAgent = true })
	ctx := context.Background()
	client, err := kubernetes.NewForConfig(s.ComponentConfig())
	if err != nil {
		t.Fatal(err)
	}
	cms := client.CoreV1().ConfigMaps("default")
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "w"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	watchOnce := func() {
		w, err := cms.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=w"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		select {
		case ev, ok := <-w.ResultChan():
			if !ok || ev.Object.(*corev1.ConfigMap).Name != "w" {
				t.Fatalf("first event %v (open %v)", ev, ok)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no initial event")
		}
	}
	const handler = "apiserver.(*server).handleWatch"
	base := goroutinesIn(handler)
	const cycles = 500
	for range cycles {
		watchOnce()
	}
	// The server's own informers may still be starting their watches,
	// a few dozen at most; a leak would leave one handler per cycle.
	waitFor(t, 10*time.Second, "watch handlers to end", func() (bool, error) {
		return goroutinesIn(handler) <= base+40, nil
	})
}

// goroutinesIn counts the goroutines whose stack has a frame containing fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			count++
		}
	}
	return count
}
