package network

import (
	"net"
	"strings"
	"testing"
)

func TestPeerRoutesLeaveOutPeersThatNeedOrCannotHaveARoute(t *testing.T) {
	own := mustCIDR(t, "10.244.1.0/24")
	local := func(ip net.IP) bool { return ip.Equal(net.ParseIP("192.0.2.1")) }
	peers := []Peer{
		{Node: "b", CIDR: "10.244.2.0/24", NodeIP: "192.0.2.2"},
		{Node: "no-cidr", NodeIP: "192.0.2.3"},
		{Node: "no-ip", CIDR: "10.244.4.0/24"},
		{Node: "same-host", CIDR: "10.244.5.0/24", NodeIP: "192.0.2.1"},
		{Node: "loopback", CIDR: "10.244.6.0/24", NodeIP: "127.0.0.1"},
		{Node: "overlap", CIDR: "10.244.0.0/16", NodeIP: "192.0.2.7"},
		{Node: "bad-cidr", CIDR: "10.244.8.0/33", NodeIP: "192.0.2.8"},
		{Node: "v6", CIDR: "10.244.9.0/24", NodeIP: "2001:db8::9"},
		{Node: "twin", CIDR: "10.244.2.0/24", NodeIP: "192.0.2.10"},
		{Node: "a", CIDR: "10.244.3.0/24", NodeIP: "192.0.2.4"},
	}
	routes, errs := peerRoutes(peers, own, local)
	var got []string
	for _, r := range routes {
		got = append(got, r.node+" "+r.subnet.String()+" via "+r.via.String())
	}
	want := []string{"b 10.244.2.0/24 via 192.0.2.2", "a 10.244.3.0/24 via 192.0.2.4"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("routes = %q, want %q", got, want)
	}
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, node := range []string{"overlap", "bad-cidr", "v6", "twin"} {
		if !strings.Contains(all, node) {
			t.Errorf("no error names node %s; errors:\n%s", node, all)
		}
	}
	if len(errs) != 4 {
		t.Errorf("%d errors, want 4:\n%s", len(errs), all)
	}
}
