package proxy

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Config configures the proxy; the zero value works.
type Config struct {
	// Link names the host end of the veth pair to the service network
	// namespace that holds the cluster IPs; default "bl-svc0". LinkNet is
	// the /30 that addresses the pair; default "169.254.43.0/30".
	Link    string
	LinkNet string
	// Interface, when set, puts the cluster IPs on this host interface
	// instead of a namespace of their own (also the fallback, on "lo",
	// when the kernel cannot make the namespace). An interface that does
	// not exist is created as a dummy interface when the kernel supports
	// it. Host servers then cannot bind a wildcard address on a Service's
	// port.
	Interface string
	// Label marks the addresses the proxy adds on Interface, so that stale
	// ones from an earlier run are found and removed; it must start with
	// the interface name and a colon and be at most 15 bytes. Default
	// "<Interface>:bl-svc".
	Label string
	// DialTimeout bounds connecting to one endpoint; default 2s.
	DialTimeout time.Duration
	// UDPIdleTimeout ends a UDP flow without traffic; default 30s.
	UDPIdleTimeout time.Duration
	// LocalEndpoints are endpoints this node serves itself, by Service key
	// (namespace/name): a Service listed here is forwarded to them, not
	// to the Endpoints in the API. Every server runs the cluster DNS on
	// its own loopback, and publishes that address as kube-dns's
	// Endpoints, the last one overwriting the others'; each node's pods
	// must reach their own server's.
	LocalEndpoints map[string]*corev1.Endpoints
}

func (c Config) withDefaults() Config {
	if c.Link == "" {
		c.Link = "bl-svc0"
	}
	if c.LinkNet == "" {
		c.LinkNet = "169.254.43.0/30"
	}
	if c.Label == "" && c.Interface != "" {
		c.Label = c.Interface + ":bl-svc"
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 2 * time.Second
	}
	if c.UDPIdleTimeout <= 0 {
		c.UDPIdleTimeout = 30 * time.Second
	}
	return c
}
