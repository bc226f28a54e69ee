// Package server wires batchlet's roles into one process: storage
// (embedded etcd or an external cluster), the apiserver, the controllers,
// the scheduler and a local node agent. It is shaped like etcd's embed
// package: a Config, Start, a Ready signal and Close. The command line and
// the in-process test harness both use it.
package server

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/utils/clock"

	"github.com/batchlet/batchlet/internal/registry/service"
)

// Config selects how the server runs. The zero value plus a DataDir is a
// working single-machine server.
type Config struct {
	// DataDir holds etcd's data, certificates, the kubeconfig and the
	// node agent's state and logs.
	DataDir string
	// Listen is the apiserver's HTTPS address (default 127.0.0.1:6443;
	// port 0 picks a free port).
	Listen string
	// EtcdEndpoints, when set, uses an external etcd cluster instead of
	// the embedded one.
	EtcdEndpoints []string
	// NodeName names the local node (default: the host name).
	NodeName string
	// DisableAgent runs no local node agent (control plane only).
	DisableAgent bool
	// AgentListen is the local agent API's address (default 127.0.0.1:0).
	AgentListen string
	// MaxPods is the local node's pod capacity, as kubelet's --max-pods
	// (default 110).
	MaxPods int
	// ProfilesFile is an optional image profiles file for the process
	// runtime.
	ProfilesFile string
	// Clock drives the controllers (default: the real clock).
	Clock clock.WithTicker
	// ControllerWorkers is the number of workers per controller (default 4).
	ControllerWorkers int
	// ServiceCIDR is the range ClusterIPs come from (default 10.43.0.0/16);
	// the cluster DNS Service takes its tenth address.
	ServiceCIDR string
	// DisableServiceProxy runs no ClusterIP proxy on this host (the proxy
	// needs root; two servers on one host must not both run one).
	DisableServiceProxy bool
	// DisablePodNetwork keeps the local node's pods in the host network
	// instead of giving each its own network namespace and address.
	DisablePodNetwork bool
	// PodCIDR is the local node's pod CIDR (default: a free /24 of
	// 10.244.0.0/16).
	PodCIDR string
	// EventTTL is how long an event is kept after its last update
	// (default 1h, as kube-apiserver's --event-ttl).
	EventTTL time.Duration
}

// DefaultEventTTL is kube-apiserver's default --event-ttl.
const DefaultEventTTL = time.Hour

// DefaultDataDir is /var/lib/batchlet for root and ~/.batchlet otherwise.
func DefaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/batchlet"
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".batchlet"
	}
	return filepath.Join(home, ".batchlet")
}

// KubeconfigPath is where a server with this data dir writes its admin
// kubeconfig.
func KubeconfigPath(dataDir string) string {
	return filepath.Join(dataDir, "kubeconfig")
}

func (c *Config) complete() error {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir()
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return fmt.Errorf("data dir %q: %w", c.DataDir, err)
	}
	c.DataDir = abs
	if c.Listen == "" {
		c.Listen = "127.0.0.1:6443"
	}
	if c.NodeName == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "localhost"
		}
		c.NodeName = host
	}
	if c.AgentListen == "" {
		c.AgentListen = "127.0.0.1:0"
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.ServiceCIDR == "" {
		c.ServiceCIDR = service.DefaultServiceCIDR
	}
	if c.ControllerWorkers <= 0 {
		c.ControllerWorkers = 4
	}
	if c.EventTTL <= 0 {
		c.EventTTL = DefaultEventTTL
	}
	return nil
}
