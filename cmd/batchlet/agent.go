package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/batchlet/batchlet/internal/agent"
	"github.com/batchlet/batchlet/internal/join"
	"github.com/batchlet/batchlet/internal/network"
)

// agentOptions are the flags of `batchlet agent`.
type agentOptions struct {
	server, token, tokenFile  string
	dataDir, nodeName, listen string
	nodeIP, imageProfiles     string
	maxPods                   int
	podCIDR, podBridge        string
	disablePodNetwork         bool
}

func newAgentCommand() *cobra.Command {
	var o agentOptions
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a node agent that joins a batchlet server over HTTPS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAgent(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "HTTPS URL of the server to join (required)")
	f.StringVar(&o.token, "token", "", "join token issued by the server")
	f.StringVar(&o.tokenFile, "token-file", "", "file holding the join token")
	f.StringVar(&o.dataDir, "data-dir", defaultAgentDataDir(), "directory for container state and pod logs")
	f.StringVar(&o.nodeName, "node-name", "", "name of this node (default: the host name)")
	f.StringVar(&o.listen, "listen", "0.0.0.0:10250", "address of the agent API (logs, exec, attach)")
	f.StringVar(&o.nodeIP, "node-ip", "", "IP address the node advertises (default: the host's primary address)")
	f.IntVar(&o.maxPods, "max-pods", agent.DefaultMaxPods, "number of pods this node can run")
	f.StringVar(&o.imageProfiles, "image-profiles", "", "file of extra image profiles for the process runtime")
	f.BoolVar(&o.disablePodNetwork, "disable-pod-network", false, "keep pods in the host network instead of a network namespace and address of their own (which needs root on Linux)")
	f.StringVar(&o.podCIDR, "pod-cidr", "", "this node's pod CIDR (default: a free /24 of 10.244.0.0/16)")
	f.StringVar(&o.podBridge, "pod-bridge", "", "name of this node's pod bridge (default: bl-br<N> after the pod CIDR's third octet)")
	return cmd
}

// defaultAgentDataDir is a system directory for root and a per-user one
// otherwise.
func defaultAgentDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/batchlet-agent"
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".batchlet-agent")
	}
	return ".batchlet-agent"
}

func runAgent(cmd *cobra.Command, o agentOptions) error {
	if o.server == "" {
		return errors.New("--server is required")
	}
	if err := checkMaxPods(o.maxPods); err != nil {
		return err
	}
	token := o.token
	if o.tokenFile != "" {
		if token != "" {
			return errors.New("give --token or --token-file, not both")
		}
		data, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return fmt.Errorf("reading token file: %w", err)
		}
		token = strings.TrimSpace(string(data))
	}
	if token == "" {
		return errors.New("--token or --token-file is required")
	}
	if err := network.CheckConfig(o.podCIDR, o.podBridge); err != nil {
		return fmt.Errorf("--pod-cidr/--pod-bridge: %w", err)
	}
	if o.nodeIP != "" && net.ParseIP(o.nodeIP) == nil {
		return fmt.Errorf("--node-ip: %q is not an IP address", o.nodeIP)
	}
	if o.nodeName == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("node name: %w", err)
		}
		o.nodeName = strings.ToLower(host)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	restCfg, caPEM, err := join.Bootstrap(ctx, o.server, token)
	if err != nil {
		return fmt.Errorf("joining %s: %w", o.server, err)
	}
	restCfg.UserAgent = "batchlet-agent/" + o.nodeName
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("API client: %w", err)
	}
	// The apiserver calls the agent API with a client certificate from
	// the cluster CA.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	a, err := agent.New(agent.Config{
		NodeName:      o.nodeName,
		Client:        client,
		DataDir:       o.dataDir,
		ListenAddress: o.listen,
		NodeIP:        o.nodeIP,
		ClientCA:      pool,
		ProfilesFile:  o.imageProfiles,
		MaxPods:       o.maxPods,
		PodNetwork:    agent.PodNetworkConfig{Mode: podNetworkMode(o.disablePodNetwork), CIDR: o.podCIDR, Bridge: o.podBridge},
	})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	errc := make(chan error, 1)
	go func() { errc <- a.Run(ctx) }()
	select {
	case <-a.Ready():
		fmt.Fprintf(out, "batchlet agent: node %s joined %s\n", o.nodeName, o.server)
		releaseStartupPages()
	case err := <-errc:
		return err
	}
	err = <-errc
	if ctx.Err() != nil {
		fmt.Fprintln(out, "batchlet agent: shutting down (containers keep running)")
	}
	return err
}

func podNetworkMode(disabled bool) agent.PodNetworkMode {
	if disabled {
		return agent.PodNetworkOff
	}
	return agent.PodNetworkAuto
}

// checkMaxPods refuses a pod capacity a node could not use.
func checkMaxPods(n int) error {
	if n < 1 {
		return fmt.Errorf("--max-pods must be at least 1, got %d", n)
	}
	return nil
}
