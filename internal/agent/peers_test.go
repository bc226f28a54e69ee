package agent

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchlet/batchlet/internal/network"
)

func TestPeersAreOtherNodesWithAPodCIDRAndAnInternalIP(t *testing.T) {
	node := func(name, cidr string, addrs ...corev1.NodeAddress) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.NodeSpec{PodCIDR: cidr}, Status: corev1.NodeStatus{Addresses: addrs}}
	}
	internal := func(ip string) corev1.NodeAddress {
		return corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip}
	}
	nodes := []*corev1.Node{
		node("self", "10.244.0.0/24", internal("192.0.2.1")),
		node("b", "10.244.1.0/24", corev1.NodeAddress{Type: corev1.NodeHostName, Address: "b"}, internal("192.0.2.2")),
		node("no-cidr", "", internal("192.0.2.3")),
		node("external-only", "10.244.3.0/24", corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "198.51.100.4"}),
	}
	got := peersOf(nodes, "self")
	want := []network.Peer{{Node: "b", CIDR: "10.244.1.0/24", NodeIP: "192.0.2.2"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("peers = %+v, want %+v", got, want)
	}
}
