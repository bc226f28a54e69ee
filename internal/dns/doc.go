// Package dns is the cluster DNS server: it answers for the cluster domain
// from in-memory records that informer event handlers keep in step with
// Services and Endpoints, following the Kubernetes DNS specification that
// CoreDNS implements:
//
//	<service>.<ns>.svc.<domain>             A: the cluster IP, or for a
//	                                        headless Service the ready
//	                                        endpoint addresses
//	<hostname>.<service>.<ns>.svc.<domain>  A: that endpoint's address
//	_<port>._<proto>.<service>.<ns>.svc.<domain>  SRV for named ports
//	<a-b-c-d>.<ns>.pod.<domain>             A: a-b-c-d
//
// Names outside the cluster domain are forwarded to upstream servers.
// ResolvConf renders a pod's /etc/resolv.conf as the kubelet does.
package dns
