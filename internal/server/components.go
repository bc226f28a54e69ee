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
	jobcontroller "github.com/batchlet/batchlet/internal/controller/job"
	"github.com/batchlet/batchlet/internal/pki"
	"github.com/batchlet/batchlet/internal/scheduler"
)

// informerResync is 0: controllers are level-triggered from watch events
// and requeue themselves when time matters.
const informerResync = 0 * time.Second

// jobSyncBatchPeriod is how long the Job controller gathers pod events
// before syncing a Job.
const jobSyncBatchPeriod = 100 * time.Millisecond

// startComponents starts the controllers, the scheduler and the local
// agent, each an ordinary API client. It returns a channel closed when the
// server can run pods.
func (s *Server) startComponents(ctx context.Context, client kubernetes.Interface, ca *pki.CA, certs *serverCerts) (<-chan struct{}, error) {
	factory := informers.NewSharedInformerFactory(client, informerResync)
	clk := s.cfg.Clock
	workers := s.cfg.ControllerWorkers

	jobs, err := jobcontroller.NewController(client, factory, clk)
	if err != nil {
		return nil, fmt.Errorf("job controller: %w", err)
	}
	// Upstream batches pod-triggered Job syncs over 1 s; a shorter window
	// keeps the batching benefit under load and cuts status latency.
	jobs.BatchPeriod = jobSyncBatchPeriod
	sched, err := scheduler.New(client, factory, clk)
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	factory.Start(ctx.Done())
	s.goRun(func() { jobs.Run(ctx, workers) })
	s.goRun(func() { sched.Run(ctx, workers) })

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
		ClientCA:      ca.Pool(),
		ServingCert:   &serving.TLS,
		Clock:         clk,
		ProfilesFile:  s.cfg.ProfilesFile,
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
