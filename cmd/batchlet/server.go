package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/batchlet/batchlet/internal/agent"
	"github.com/batchlet/batchlet/internal/memtrim"
	"github.com/batchlet/batchlet/internal/network"
	"github.com/batchlet/batchlet/internal/server"
)

func newServerCommand() *cobra.Command {
	var cfg server.Config
	var etcdEndpoints string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the apiserver, embedded etcd, controllers, scheduler and a local node agent",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if etcdEndpoints != "" {
				cfg.EtcdEndpoints = strings.Split(etcdEndpoints, ",")
			}
			return runServer(cmd, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", server.DefaultDataDir(), "directory for etcd data, certificates, the kubeconfig and pod logs")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:6443", "HTTPS address of the Kubernetes API")
	f.StringVar(&etcdEndpoints, "etcd-endpoints", "", "comma-separated URLs of an external etcd cluster (default: embedded etcd in the data dir)")
	f.StringVar(&cfg.NodeName, "node-name", "", "name of the local node (default: the host name)")
	f.BoolVar(&cfg.DisableAgent, "disable-agent", false, "run no local node agent")
	f.StringVar(&cfg.AgentListen, "agent-listen", "127.0.0.1:0", "address of the local node agent's API (logs, exec)")
	f.IntVar(&cfg.MaxPods, "max-pods", agent.DefaultMaxPods, "number of pods the local node can run")
	f.StringVar(&cfg.ProfilesFile, "image-profiles", "", "file of extra image profiles for the process runtime")
	f.StringVar(&cfg.ServiceCIDR, "service-cidr", "10.43.0.0/16", "range of Service ClusterIPs; cluster DNS takes its tenth address")
	f.BoolVar(&cfg.DisableServiceProxy, "disable-service-proxy", false, "do not make ClusterIPs reachable on this host (needs root)")
	f.BoolVar(&cfg.DisablePodNetwork, "disable-pod-network", false, "keep the local node's pods in the host network instead of a network namespace and address of their own")
	f.StringVar(&cfg.PodCIDR, "pod-cidr", "", "the local node's pod CIDR (default: a free /24 of 10.244.0.0/16)")
	f.DurationVar(&cfg.EventTTL, "event-ttl", server.DefaultEventTTL, "how long events are kept after their last update")
	return cmd
}

func runServer(cmd *cobra.Command, cfg server.Config) error {
	if path := os.Getenv("BATCHLET_CPUPROFILE"); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			return err
		}
		defer stop()
	}
	if err := checkMaxPods(cfg.MaxPods); err != nil {
		return err
	}
	if err := network.CheckConfig(cfg.PodCIDR, ""); err != nil {
		return fmt.Errorf("--pod-cidr: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	s, err := server.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "batchlet: API at %s\n", s.URL())
	fmt.Fprintf(out, "batchlet: admin kubeconfig written to %s\n", s.KubeconfigPath())
	fmt.Fprintf(out, "batchlet: agents join with: batchlet agent --server %s --token-file %s\n", s.URL(), server.TokenPath(cfg.DataDir))
	select {
	case <-s.Ready():
		fmt.Fprintf(out, "batchlet: ready in %d ms (try: KUBECONFIG=%s kubectl get nodes)\n", time.Since(start).Milliseconds(), s.KubeconfigPath())
		releaseStartupPages(s.EmbeddedEtcdDB())
	case err := <-s.Failed():
		return err
	case <-ctx.Done():
		return nil
	}
	select {
	case err := <-s.Failed():
		return err
	case <-ctx.Done():
		fmt.Fprintln(out, "batchlet: shutting down")
		return nil
	}
}

// releaseStartupPages gives back the file pages start-up touched once
// and the server does not use again: the initialisation code of every
// linked package, and the pages of etcd's database it read to rebuild its
// free list. What the server does use comes back on demand.
func releaseStartupPages(files ...string) {
	if _, err := memtrim.DropExecutablePages(); err != nil {
		slog.Debug("releasing start-up pages", "err", err)
	}
	for _, f := range files {
		if f == "" {
			continue
		}
		if _, err := memtrim.DropFilePages(f); err != nil {
			slog.Debug("releasing start-up pages", "file", f, "err", err)
		}
	}
}

// startCPUProfile profiles the whole server until it stops: set
// BATCHLET_CPUPROFILE to a file to see where a harness's load goes.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("BATCHLET_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("BATCHLET_CPUPROFILE: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
