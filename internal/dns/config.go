package dns

import (
	"net"
	"os"
	"strings"

	"k8s.io/utils/clock"
)

// DefaultClusterDomain is the cluster domain unless configured.
const DefaultClusterDomain = "cluster.local"

// hostResolvConfPath is where the host's resolver configuration lives.
const hostResolvConfPath = "/etc/resolv.conf"

// Config configures the DNS server.
type Config struct {
	// ListenAddress is served over both UDP and TCP, e.g. "127.0.0.1:53";
	// port 0 picks a free port (the same for both protocols).
	ListenAddress string
	// ClusterDomain defaults to DefaultClusterDomain.
	ClusterDomain string
	// Upstream lists forwarders ("ip" or "ip:port") for names outside the
	// cluster domain. Nil means the nameservers of the host's
	// /etc/resolv.conf; an empty non-nil slice disables forwarding.
	Upstream []string
	// Clock times the answer cache; default the real clock.
	Clock clock.PassiveClock
}

// withDefaults fills in the cluster domain and upstream servers.
func (c Config) withDefaults() Config {
	if c.ClusterDomain == "" {
		c.ClusterDomain = DefaultClusterDomain
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	c.ClusterDomain = strings.Trim(strings.ToLower(c.ClusterDomain), ".")
	if c.Upstream == nil {
		c.Upstream = hostNameservers()
	}
	ups := make([]string, 0, len(c.Upstream))
	for _, u := range c.Upstream {
		if _, _, err := net.SplitHostPort(u); err != nil {
			u = net.JoinHostPort(u, "53")
		}
		ups = append(ups, u)
	}
	c.Upstream = ups
	return c
}

// hostNameservers reads the host's nameservers; none when unreadable.
func hostNameservers() []string {
	data, err := os.ReadFile(hostResolvConfPath)
	if err != nil {
		return []string{}
	}
	return parseResolvConf(data).nameservers
}
