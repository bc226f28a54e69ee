package server

import (
	"context"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/restmapper"

	"github.com/batchlet/batchlet/internal/controller/cronjob"
	"github.com/batchlet/batchlet/internal/controller/endpoints"
	"github.com/batchlet/batchlet/internal/controller/garbagecollector"
	jobcontroller "github.com/batchlet/batchlet/internal/controller/job"
	"github.com/batchlet/batchlet/internal/controller/namespace"
	"github.com/batchlet/batchlet/internal/controller/podgc"
	"github.com/batchlet/batchlet/internal/controller/ttlafterfinished"
	"github.com/batchlet/batchlet/internal/leader"
	"github.com/batchlet/batchlet/internal/scheduler"
)

// The Leases upstream's components hold in kube-system: a real
// kube-controller-manager or kube-scheduler pointed at this API would
// take turns with ours rather than run beside them.
const (
	controllerManagerLease = "kube-controller-manager"
	schedulerLease         = "kube-scheduler"
)

// leaderIdentity names this server in Leases: the node name and its data
// dir, stable across restarts so that a restarted server takes its own
// unexpired Lease back at once.
func (s *Server) leaderIdentity() string {
	dir, err := filepath.Abs(s.cfg.DataDir)
	if err != nil {
		dir = s.cfg.DataDir
	}
	h := fnv.New32a()
	h.Write([]byte(dir))
	return fmt.Sprintf("%s_%08x", s.cfg.NodeName, h.Sum32())
}

// lead runs component for every term in which this server holds lease.
// A component that cannot be built fails the server.
func (s *Server) lead(ctx context.Context, client kubernetes.Interface, lease, identity string,
	component func(context.Context, kubernetes.Interface) error) {
	err := leader.Run(ctx, leader.Config{Client: client, Name: lease, Identity: identity}, func(term context.Context) {
		if err := component(term, client); err != nil && ctx.Err() == nil {
			s.failed <- err
		}
	})
	if err != nil && ctx.Err() == nil {
		s.failed <- err
	}
}

// runControllerManager runs, for one term, the controllers
// kube-controller-manager runs for batch: each term starts from fresh
// informers, as a new kube-controller-manager process would.
func (s *Server) runControllerManager(ctx context.Context, client kubernetes.Interface) error {
	factory := informers.NewSharedInformerFactoryWithOptions(client, informerResync, informers.WithTransform(trimManagedFields))
	defer factory.Shutdown()
	clk := s.cfg.Clock
	workers := s.cfg.ControllerWorkers
	jobs, err := jobcontroller.NewController(client, factory, clk)
	if err != nil {
		return fmt.Errorf("job controller: %w", err)
	}
	// Upstream batches pod-triggered Job syncs over 1 s; a shorter window
	// keeps the batching benefit under load and cuts status latency.
	jobs.BatchPeriod = jobSyncBatchPeriod
	cronJobs, err := cronjob.NewController(client, factory, clk)
	if err != nil {
		return fmt.Errorf("cronjob controller: %w", err)
	}
	ttl, err := ttlafterfinished.NewController(client, factory, clk)
	if err != nil {
		return fmt.Errorf("ttl-after-finished controller: %w", err)
	}
	podGC, err := podgc.NewController(client, factory, clk, terminatedPodGCThreshold)
	if err != nil {
		return fmt.Errorf("pod GC: %w", err)
	}
	metadataClient, err := metadata.NewForConfig(s.restConfig)
	if err != nil {
		return fmt.Errorf("metadata client: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(client.Discovery()))
	gc, err := garbagecollector.NewController(client, metadataClient, mapper, clk)
	if err != nil {
		return fmt.Errorf("garbage collector: %w", err)
	}
	namespaces, err := namespace.NewController(client, metadataClient, client.Discovery(), factory, clk)
	if err != nil {
		return fmt.Errorf("namespace controller: %w", err)
	}
	// One writer of every Service's Endpoints, as upstream, sharing the
	// Job controller's pod informer.
	eps, err := endpoints.NewController(client, factory, clk)
	if err != nil {
		return fmt.Errorf("endpoints controller: %w", err)
	}
	factory.Start(ctx.Done())
	runAll(
		func() { jobs.Run(ctx, workers) },
		func() { cronJobs.Run(ctx, cronJobWorkers) },
		func() { ttl.Run(ctx, workers) },
		func() { podGC.Run(ctx, 1) },
		func() { gc.Run(ctx, workers) },
		func() { namespaces.Run(ctx, workers) },
		func() { eps.Run(ctx, workers) },
	)
	return nil
}

// runScheduler runs the scheduler for one term.
func (s *Server) runScheduler(ctx context.Context, client kubernetes.Interface) error {
	factory := informers.NewSharedInformerFactoryWithOptions(client, informerResync, informers.WithTransform(trimManagedFields))
	defer factory.Shutdown()
	sched, err := scheduler.New(client, factory, s.cfg.Clock)
	if err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	factory.Start(ctx.Done())
	sched.Run(ctx, s.cfg.ControllerWorkers)
	return nil
}

// trimManagedFields drops managedFields from objects entering an informer
// cache, as kube-controller-manager and kube-scheduler do: no controller
// reads them, and an update without them keeps the stored ones. On pods
// they are a third of the bytes each cache holds.
func trimManagedFields(obj any) (any, error) {
	if acc, err := meta.Accessor(obj); err == nil && acc.GetManagedFields() != nil {
		acc.SetManagedFields(nil)
	}
	return obj, nil
}

// runAll runs each function in its own goroutine and returns when all
// have returned.
func runAll(fns ...func()) {
	var wg sync.WaitGroup
	for _, f := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	wg.Wait()
}
