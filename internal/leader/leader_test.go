package leader_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/batchlet/batchlet/internal/leader"
	"github.com/batchlet/batchlet/internal/server"
	"github.com/batchlet/batchlet/internal/server/servertest"
)

func TestMain(m *testing.M) { os.Exit(servertest.RunTests(m)) }

// quick timings keep the tests short; the waits are bounded by deadlines.
func testConfig(client kubernetes.Interface, identity string) leader.Config {
	return leader.Config{Client: client, Name: "test-lease", Identity: identity,
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 100 * time.Millisecond}
}

// candidate runs Run in the background and records its terms.
type candidate struct {
	cancel  context.CancelFunc
	leading chan struct{} // closed at the start of the first term
	stopped chan struct{} // closed when the first term's lead returned
	done    chan struct{} // closed when Run returned
}

func campaign(t *testing.T, cfg leader.Config, log *termLog) *candidate {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &candidate{cancel: cancel, leading: make(chan struct{}), stopped: make(chan struct{}), done: make(chan struct{})}
	var once sync.Once
	go func() {
		defer close(c.done)
		_ = leader.Run(ctx, cfg, func(leadCtx context.Context) {
			log.add(cfg.Identity + " leads")
			first := false
			once.Do(func() { first = true; close(c.leading) })
			<-leadCtx.Done()
			log.add(cfg.Identity + " stops")
			if first {
				close(c.stopped)
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-c.done })
	return c
}

type termLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *termLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

func (l *termLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting until %s", what)
	}
}

func startServer(t *testing.T) kubernetes.Interface {
	t.Helper()
	return servertest.Start(t, func(c *server.Config) { c.DisableAgent = true }).Client
}

func TestOneCandidateLeadsAtATimeAndTheNextTakesOverOnRelease(t *testing.T) {
	client := startServer(t)
	var log termLog
	a := campaign(t, testConfig(client, "a"), &log)
	waitFor(t, a.leading, "a leads")
	b := campaign(t, testConfig(client, "b"), &log)
	a.cancel()
	waitFor(t, b.leading, "b leads after a stepped down")
	got := log.get()
	want := []string{"a leads", "a stops", "b leads"}
	if len(got) < 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("terms = %q, want %q first: b may lead only after a stopped", got, want)
	}
	lease, err := client.CoordinationV1().Leases("kube-system").Get(context.Background(), "test-lease", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := ptr.Deref(lease.Spec.HolderIdentity, ""); h != "b" {
		t.Fatalf("lease holder = %q, want b", h)
	}
}

func TestARestartedCandidateTakesItsOwnLeaseBackAtOnce(t *testing.T) {
	client := startServer(t)
	// A lease held by "a" that will not expire for a minute: what a
	// server killed a moment ago leaves behind.
	now := metav1.NewMicroTime(time.Now())
	_, err := client.CoordinationV1().Leases("kube-system").Create(context.Background(), &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "test-lease", Namespace: "kube-system"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("a"), LeaseDurationSeconds: ptr.To[int32](60),
			AcquireTime: &now, RenewTime: &now},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var log termLog
	start := time.Now()
	a := campaign(t, testConfig(client, "a"), &log)
	waitFor(t, a.leading, "a leads again")
	if waited := time.Since(start); waited > 30*time.Second {
		t.Fatalf("a waited %v for its own lease", waited)
	}
}

func TestALeaderThatLosesItsLeaseStops(t *testing.T) {
	client := startServer(t)
	var log termLog
	a := campaign(t, testConfig(client, "a"), &log)
	waitFor(t, a.leading, "a leads")
	// Another holder takes the lease over (as after a partition).
	leases := client.CoordinationV1().Leases("kube-system")
	for {
		lease, err := leases.Get(context.Background(), "test-lease", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		now := metav1.NewMicroTime(time.Now())
		lease.Spec.HolderIdentity = ptr.To("intruder")
		lease.Spec.LeaseDurationSeconds = ptr.To[int32](60)
		lease.Spec.RenewTime = &now
		if _, err = leases.Update(context.Background(), lease, metav1.UpdateOptions{}); err == nil {
			break
		}
	}
	waitFor(t, a.stopped, "a stops leading")
}
