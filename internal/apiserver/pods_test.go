package apiserver

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func newPod(name string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "busybox"})
	}
	return p
}

func TestBindingAndEviction(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	pods := env.client.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, newPod("p", "c"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}
	if err := pods.Bind(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	got, _ := pods.Get(ctx, "p", metav1.GetOptions{})
	if got.Spec.NodeName != "n1" {
		t.Fatalf("nodeName = %q", got.Spec.NodeName)
	}
	b.Target.Name = "n2"
	err := pods.Bind(ctx, b, metav1.CreateOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `pod p is already assigned to node "n1"`) {
		t.Errorf("second bind: %v", err)
	}
	ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "p"}}
	if err := pods.EvictV1(ctx, ev); err != nil {
		t.Fatalf("evict: %v", err)
	}
	got, _ = pods.Get(ctx, "p", metav1.GetOptions{})
	if got.DeletionTimestamp == nil {
		t.Errorf("evicted pod not deleting")
	}
	found := false
	for _, c := range got.Status.Conditions {
		found = found || (c.Type == corev1.DisruptionTarget && c.Reason == "EvictionByEvictionAPI" && c.Message == "Eviction API: evicting")
	}
	if !found {
		t.Errorf("no DisruptionTarget condition: %+v", got.Status.Conditions)
	}
}

func TestPodLogProxy(t *testing.T) {
	agent := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.URL.Path+"?"+r.URL.RawQuery)
	}))
	defer agent.Close()
	env := newTestEnv(t, func(c *Config) { c.NodeTransport = agent.Client().Transport })
	ctx := context.Background()
	u, _ := url.Parse(agent.URL)
	host, port, _ := net.SplitHostPort(u.Host)
	p, _ := strconv.Atoi(port)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: host}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(p)}},
	}}
	if _, err := env.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	one := newPod("one", "c")
	one.Spec.NodeName = "n1"
	two := newPod("two", "a", "b")
	two.Spec.NodeName = "n1"
	for _, pod := range []*corev1.Pod{one, two, newPod("unbound", "c")} {
		if _, err := env.client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		path     string
		code     int
		contains string
	}{
		{"/api/v1/namespaces/default/pods/one/log?tailLines=10", 200, "/containerLogs/default/one/c?tailLines=10"},
		{"/api/v1/namespaces/default/pods/two/log", 400, "a container name must be specified for pod two, choose one of: [a b]"},
		{"/api/v1/namespaces/default/pods/two/log?container=x", 400, "container x is not valid for pod two"},
		{"/api/v1/namespaces/default/pods/two/log?container=b&follow=true", 200, "/containerLogs/default/two/b?follow=true"},
		{"/api/v1/namespaces/default/pods/unbound/log", 400, "does not have a host assigned"},
		{"/api/v1/namespaces/default/pods/one/exec?command=echo&command=hi&stdout=true", 200, "/exec/default/one/c?"},
	} {
		resp, body := env.do(t, "GET", tc.path, "", nil)
		if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.contains) {
			t.Errorf("%s: %d %s", tc.path, resp.StatusCode, body)
		}
	}
}
