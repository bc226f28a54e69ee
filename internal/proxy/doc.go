// Package proxy makes Service cluster IPs reachable from processes on this
// host. As root on Linux it keeps the cluster IPs in a network namespace of
// their own, joined to the host by a veth pair and routed to from the host
// one /32 at a time, and runs a userspace forwarder per Service port inside
// it: TCP connections and UDP flows go round robin to the ready endpoint
// addresses. Because the cluster IPs are not local addresses of the host, a
// host process (every pod of the process runtime) may bind the wildcard
// address on any port. A port without ready endpoints has no listener, so
// clients see connection refused, as with kube-proxy's reject rules.
// Without root the proxy reports once that it is disabled and does nothing.
package proxy
