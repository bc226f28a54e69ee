package server

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/batchlet/batchlet/internal/agent"
	"github.com/batchlet/batchlet/internal/pki"
)

// informerResync is 0: controllers are level-triggered from watch events
// and requeue themselves when time matters.
const informerResync = 0 * time.Second

// jobSyncBatchPeriod is how long the Job controller gathers pod events
// before syncing a Job.
const jobSyncBatchPeriod = 100 * time.Millisecond

// cronJobWorkers is high because CronJobs come due together at minute
// boundaries and each costs two API writes.
const cronJobWorkers = 32

// terminatedPodGCThreshold is kube-controller-manager's default.
const terminatedPodGCThreshold = 12500

// startComponents starts the controllers, the scheduler and the local
// agent, each an ordinary API client. It returns a channel closed when the
// server can run pods.
func (s *Server) startComponents(ctx context.Context, client kubernetes.Interface, ca *pki.CA, certs *serverCerts) (<-chan struct{}, error) {
	factory := informers.NewSharedInformerFactory(client, informerResync)
	clk := s.cfg.Clock
	if err := s.startNetworking(ctx, client, factory); err != nil {
		return nil, err
	}
	factory.Start(ctx.Done())
	// The controllers and the scheduler run where their Lease is held,
	// so that servers sharing one etcd run each of them once.
	identity := s.leaderIdentity()
	s.goRun(func() { s.lead(ctx, client, controllerManagerLease, identity, s.runControllerManager) })
	s.goRun(func() { s.lead(ctx, client, schedulerLease, identity, s.runScheduler) })

	if s.cfg.DisableAgent {
		done := make(chan struct{})
		close(done)
		return done, nil
	}
	nodeIP := "127.0.0.1"
	if host, _, err := net.SplitHostPort(s.cfg.AgentListen); err == nil && host != "" {
		if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
			nodeIP = ip.String()
		}
	}
	serving, err := ca.IssueServing(s.cfg.NodeName, []string{s.cfg.NodeName, "localhost"}, []net.IP{net.ParseIP(nodeIP)})
	if err != nil {
		return nil, fmt.Errorf("issuing agent serving certificate: %w", err)
	}
	a, err := agent.New(agent.Config{
		NodeName:      s.cfg.NodeName,
		Client:        client,
		DataDir:       filepath.Join(s.cfg.DataDir, "agent"),
		ListenAddress: s.cfg.AgentListen,
		NodeIP:        nodeIP,
		MaxPods:       s.cfg.MaxPods,
		ClientCA:      ca.Pool(),
		ServingCert:   &serving.TLS,
		Clock:         clk,
		ProfilesFile:  s.cfg.ProfilesFile,
		ClusterDNS:    s.clusterDNS.String(),
		ClusterDomain: "cluster.local",
		PodNetwork:    podNetworkConfig(s.cfg.DisablePodNetwork, s.cfg.PodCIDR),
	})
	if err != nil {
		return nil, fmt.Errorf("node agent: %w", err)
	}
	s.goRun(func() {
		if err := a.Run(ctx); err != nil && ctx.Err() == nil {
			s.failed <- fmt.Errorf("node agent: %w", err)
		}
	})
	return a.Ready(), nil
}

func (s *Server) goRun(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// podNetworkConfig is the local node's pod network: detected with the
// node's isolation unless disabled.
func podNetworkConfig(disabled bool, cidr string) agent.PodNetworkConfig {
	cfg := agent.PodNetworkConfig{Mode: agent.PodNetworkAuto, CIDR: cidr}
	if disabled {
		cfg.Mode = agent.PodNetworkOff
	}
	return cfg
}
