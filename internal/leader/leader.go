// Package leader runs a component only while this process holds its
// Lease, as kube-controller-manager and kube-scheduler do, so that several
// servers sharing one etcd cluster run each controller once.
package leader

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Upstream's default timings (kube-controller-manager --leader-elect-*).
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// Config names the Lease and who campaigns for it.
type Config struct {
	Client    kubernetes.Interface
	Namespace string // default kube-system
	Name      string // e.g. kube-controller-manager
	// Identity must be unique among the candidates and stable across
	// restarts of one candidate: a restarted server then takes its own
	// unexpired lease back at once instead of waiting for it to expire.
	Identity string

	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// Run campaigns for the lease until ctx ends. Each time it is won, lead
// runs with a context that ends when the lease is lost or ctx ends; lead
// must return once its context is done, and the next campaign starts only
// after it has. On the way out the lease is released, so that another
// candidate takes over without waiting for it to expire.
func Run(ctx context.Context, cfg Config, lead func(ctx context.Context)) error {
	if cfg.Namespace == "" {
		cfg.Namespace = metav1.NamespaceSystem
	}
	if cfg.LeaseDuration == 0 {
		cfg.LeaseDuration, cfg.RenewDeadline, cfg.RetryPeriod = DefaultLeaseDuration, DefaultRenewDeadline, DefaultRetryPeriod
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: cfg.Namespace, Name: cfg.Name},
		Client:     cfg.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: cfg.Identity},
	}
	for ctx.Err() == nil {
		won := make(chan context.Context, 1)
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			Name:            cfg.Name,
			LeaseDuration:   cfg.LeaseDuration,
			RenewDeadline:   cfg.RenewDeadline,
			RetryPeriod:     cfg.RetryPeriod,
			ReleaseOnCancel: true,
			Callbacks: leaderelection.LeaderCallbacks{
				// The elector cancels leadCtx when it stops renewing.
				OnStartedLeading: func(leadCtx context.Context) { won <- leadCtx },
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			return fmt.Errorf("leader election for %s: %w", cfg.Name, err)
		}
		campaign := make(chan struct{})
		go func() {
			defer close(campaign)
			elector.Run(ctx)
		}()
		select {
		case leadCtx := <-won:
			lead(leadCtx)
		case <-campaign:
		}
		<-campaign
	}
	return nil
}
