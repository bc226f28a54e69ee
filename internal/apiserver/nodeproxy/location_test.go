package nodeproxy

import (
	"net/http"
	"net/url"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func node(port int32, addrs ...corev1.NodeAddress) *corev1.Node {
	n := &corev1.Node{}
	n.Name = "n1"
	n.Status.Addresses = addrs
	n.Status.DaemonEndpoints.KubeletEndpoint.Port = port
	return n
}

func TestLocation(t *testing.T) {
	internal := corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}
	external := corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.7"}
	hostname := corev1.NodeAddress{Type: corev1.NodeHostName, Address: "worker-1"}
	v6 := corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "fd00::5"}
	q := url.Values{"follow": {"true"}, "tailLines": {"10"}}
	tests := []struct {
		name string
		node *corev1.Node
		path string
		want string
		code int32
	}{
		{name: "internal first", node: node(10250, hostname, external, internal), path: "/containerLogs/default/pi/pi", want: "https://10.0.0.5:10250/containerLogs/default/pi/pi?follow=true&tailLines=10"},
		{name: "external before hostname", node: node(10250, hostname, external), path: "/exec/a/b/c", want: "https://203.0.113.7:10250/exec/a/b/c?follow=true&tailLines=10"},
		{name: "hostname last", node: node(443, hostname), path: "attach/a/b/c", want: "https://worker-1:443/attach/a/b/c?follow=true&tailLines=10"},
		{name: "ipv6 bracketed", node: node(10250, v6), path: "/x", want: "https://[fd00::5]:10250/x?follow=true&tailLines=10"},
		{name: "empty address skipped", node: node(10250, corev1.NodeAddress{Type: corev1.NodeInternalIP}, hostname), path: "/x", want: "https://worker-1:10250/x?follow=true&tailLines=10"},
		{name: "no addresses", node: node(10250), path: "/x", code: http.StatusServiceUnavailable},
		{name: "no port", node: node(0, internal), path: "/x", code: http.StatusServiceUnavailable},
		{name: "nil node", path: "/x", code: http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := Location(tt.node, tt.path, q)
			if tt.code != 0 {
				status, ok := err.(apierrors.APIStatus)
				if !ok || status.Status().Code != tt.code {
					t.Fatalf("err = %v, want code %d", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.String() != tt.want {
				t.Fatalf("got %s, want %s", u, tt.want)
			}
		})
	}
}
