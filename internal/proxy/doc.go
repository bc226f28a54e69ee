// Package proxy makes Service cluster IPs reachable from processes on this
// host. As root on Linux it holds every cluster IP as a /32 on a local
// interface (the loopback by default, labelled so that the addresses are
// recognisably ours) and runs a userspace forwarder per Service port:
// TCP connections and UDP flows go round robin to the ready endpoint
// addresses. A port without ready endpoints has no listener, so clients
// see connection refused, as with kube-proxy's reject rules. Without root
// the proxy reports once that it is disabled and does nothing.
package proxy
