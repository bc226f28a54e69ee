package proxy

import "time"

// Config configures the proxy; the zero value works.
type Config struct {
	// Interface holds the cluster IPs; default "lo". An interface that
	// does not exist is created as a dummy interface when the kernel
	// supports it.
	Interface string
	// Label marks the addresses the proxy adds, so that stale ones from an
	// earlier run are found and removed; it must start with the interface
	// name and a colon and be at most 15 bytes. Default "<Interface>:bl-svc".
	Label string
	// DialTimeout bounds connecting to one endpoint; default 2s.
	DialTimeout time.Duration
	// UDPIdleTimeout ends a UDP flow without traffic; default 30s.
	UDPIdleTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Interface == "" {
		c.Interface = "lo"
	}
	if c.Label == "" {
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
