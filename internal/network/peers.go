package network

import (
	"fmt"
	"net"
	"sort"
)

// Peer is another node of the cluster whose pods this node must reach:
// its pod CIDR, through its node address.
type Peer struct {
	Node   string
	CIDR   string
	NodeIP string
}

// peerRoute is a validated Peer.
type peerRoute struct {
	node   string
	subnet *net.IPNet
	via    net.IP
}

// RouteProtocol marks the routes to other nodes' pod CIDRs in the host's
// routing table, so that they can be told from routes made by anyone
// else and removed once their node is gone.
const RouteProtocol = 186

// peerRoutes turns peers into routes, leaving out those that need none or
// cannot have one: a node without a pod CIDR or a usable address, a CIDR
// that overlaps this node's own. Peers on this very host (local is true
// for the host's own addresses) are reached through their bridges, which
// the kernel routes by itself. Problems are reported, not fatal: one bad
// Node must not cut the others off.
func peerRoutes(peers []Peer, own *net.IPNet, local func(net.IP) bool) ([]peerRoute, []error) {
	var routes []peerRoute
	var errs []error
	seen := map[string]string{}
	for _, p := range peers {
		if p.CIDR == "" || p.NodeIP == "" {
			continue
		}
		subnet, err := parseCIDR(p.CIDR)
		if err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", p.Node, err))
			continue
		}
		via := net.ParseIP(p.NodeIP).To4()
		switch {
		case via == nil:
			errs = append(errs, fmt.Errorf("node %s: address %q is not an IPv4 address", p.Node, p.NodeIP))
			continue
		case via.IsLoopback() || via.IsUnspecified() || local(via):
			continue
		case own != nil && overlaps(subnet, own):
			errs = append(errs, fmt.Errorf("node %s: pod CIDR %s overlaps this node's %s", p.Node, subnet, own))
			continue
		}
		if other, dup := seen[subnet.String()]; dup {
			errs = append(errs, fmt.Errorf("nodes %s and %s both claim pod CIDR %s", other, p.Node, subnet))
			continue
		}
		seen[subnet.String()] = p.Node
		routes = append(routes, peerRoute{node: p.Node, subnet: subnet, via: via})
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].subnet.String() < routes[j].subnet.String() })
	return routes, errs
}
