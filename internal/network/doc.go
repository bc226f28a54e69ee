// Package network gives each pod of a node its own network namespace: a
// loopback, one end of a veth pair whose other end is enslaved to the
// node's bridge, an address from the node's pod CIDR and a default route
// via the bridge, whose address is the first of the CIDR. The host routes
// between the bridge and its other interfaces (the Service proxy's
// namespace, other nodes' bridges on the same host), so pods reach each
// other, the host and cluster IPs. Nothing is translated: pods do not
// reach beyond the host.
//
// All of it is done in-process over netlink, with no helper programs.
// A pod's namespace is bind-mounted in the node's namespace directory
// under /run, so it outlives the agent, and its address allocation is a
// file there too, so running pods keep their addresses across agent
// restarts. Neither outlives a reboot, which no pod's processes do
// either; the node's CIDR and bridge are kept in its state directory.
//
// Making and destroying a namespace costs more than any other step of a
// pod's network, so a finished pod's namespace, pair, address and routes
// are kept (parked) for the next pod when the agent vouches that nothing
// of the pod is left in it and the namespace is still as it was made. A
// bounded number are kept, for a bounded time; none outlive the agent.
package network
