package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/batchlet/batchlet/internal/network"
)

// releaseAgent is an agent with a pod network on a free /24 and a pod
// cache of its own, not running: tests call its release passes directly.
type releaseAgent struct {
	*Agent
	m     *network.Manager
	clock *clocktesting.FakeClock
	pods  cache.Indexer
}

func newReleaseAgent(t testing.TB, stateDir, dataDir string) *releaseAgent {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("pod networks need root")
	}
	m, err := network.New(network.Config{StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, k := range m.Keys() {
			_ = m.Teardown(k)
		}
		_ = m.Close()
	})
	if err := os.MkdirAll(filepath.Join(dataDir, "pods"), 0o750); err != nil {
		t.Fatal(err)
	}
	clock := clocktesting.NewFakeClock(time.Now())
	pods := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{podUIDIndex: podUIDIndexFunc})
	a := &Agent{cfg: Config{NodeName: "node1", DataDir: dataDir}, clock: clock, isolate: true,
		workers: map[types.UID]*podWorker{}, podIndex: pods}
	a.net.manager = m
	return &releaseAgent{Agent: a, m: m, clock: clock, pods: pods}
}

// addPod puts a pod in the cache with phase, gives it a directory and,
// with a worker, a worker as the agent would; with an address it sets
// its network up.
func (r *releaseAgent) addPod(t testing.TB, name string, phase corev1.PodPhase, worker, address bool) types.UID {
	t.Helper()
	pod := testPod(name, sh("main", "debian", "true"))
	pod.UID = types.UID("uid-" + name)
	pod.Status.Phase = phase
	if err := r.pods.Add(pod); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(r.podDir(pod.UID), 0o750); err != nil {
		t.Fatal(err)
	}
	if worker {
		r.workers[pod.UID] = newPodWorker(r.Agent, pod)
	}
	if address {
		p, err := r.m.Setup(string(pod.UID))
		if err != nil {
			t.Fatal(err)
		}
		r.podIPs.Store(pod.UID, p.IP.String())
	}
	return pod.UID
}

func (r *releaseAgent) holds(uid types.UID) bool { return slices.Contains(r.m.Keys(), string(uid)) }

// TestReclaimFreesFinishedPodsFromWhatTheAgentKnows: a node short of
// addresses frees, before their grace period ends, the networks of pods
// its workers marked done and of pods its cache has finished (as after a
// restart), and of pods without a worker whose directory is gone;
// running pods keep theirs.
func TestReclaimFreesFinishedPodsFromWhatTheAgentKnows(t *testing.T) {
	r := newReleaseAgent(t, t.TempDir(), t.TempDir())
	marked := r.addPod(t, "marked", corev1.PodRunning, true, true)
	r.podNetworkDone(marked)
	finished := r.addPod(t, "finished", corev1.PodSucceeded, true, true)
	running := r.addPod(t, "running", corev1.PodRunning, true, true)
	orphan := r.addPod(t, "orphan", corev1.PodRunning, false, true)
	if err := os.Remove(r.podDir(orphan)); err != nil {
		t.Fatal(err)
	}
	// A directory removed under a worker is the periodic pass's to see.
	removed := r.addPod(t, "removed", corev1.PodRunning, true, true)
	if err := os.Remove(r.podDir(removed)); err != nil {
		t.Fatal(err)
	}

	r.releaseFinishedPodNetworks(r.m, true, reclaimLimit(r.m), false)
	for uid, want := range map[types.UID]bool{marked: false, finished: false, orphan: false, running: true, removed: true} {
		if r.holds(uid) != want {
			t.Errorf("after a reclaim %s holds an address: %v, want %v", uid, !want, want)
		}
	}
	r.releaseFinishedPodNetworks(r.m, false, 0, true)
	if r.holds(removed) || !r.holds(running) {
		t.Fatalf("after the periodic pass: removed holds %v, running holds %v", r.holds(removed), r.holds(running))
	}
	if _, ok := r.podIPs.Load(removed); ok {
		t.Fatal("the address of a pod whose directory is gone is still reported")
	}
}

// TestPeriodicReleaseWaitsForTheGracePeriod: the periodic pass frees a
// finished pod's network once its grace period is over, and only then;
// a running pod's stays.
func TestPeriodicReleaseWaitsForTheGracePeriod(t *testing.T) {
	r := newReleaseAgent(t, t.TempDir(), t.TempDir())
	done := r.addPod(t, "done", corev1.PodRunning, true, true)
	running := r.addPod(t, "running", corev1.PodRunning, true, true)
	r.podNetworkDone(done)
	r.clock.Step(finishedPodNetworkGrace - time.Millisecond)
	r.releaseFinishedPodNetworks(r.m, false, 0, true)
	if !r.holds(done) {
		t.Fatal("a finished pod's network freed within its grace period")
	}
	r.clock.Step(time.Millisecond)
	r.releaseFinishedPodNetworks(r.m, false, 0, true)
	if r.holds(done) || !r.holds(running) {
		t.Fatalf("after the grace period: done holds %v, running holds %v", r.holds(done), r.holds(running))
	}
}

// TestReleaseAfterRestart: an agent started over the state of an earlier
// one frees the networks of the pods that finished, before it or while
// it was down, once their grace is over, and at once those whose
// directory was removed while it was down; running pods keep theirs.
func TestReleaseAfterRestart(t *testing.T) {
	stateDir, dataDir := t.TempDir(), t.TempDir()
	var finished, running, removed types.UID
	func() {
		r := newReleaseAgent(t, stateDir, dataDir)
		finished = r.addPod(t, "finished", corev1.PodRunning, true, true)
		running = r.addPod(t, "running", corev1.PodRunning, true, true)
		removed = r.addPod(t, "removed", corev1.PodRunning, true, true)
		// The agent stops with every pod running; its pods keep their
		// networks.
		r.net.stopping.Store(true)
		r.releaseFinishedPodNetworks(r.m, true, 0, true)
		if err := r.m.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	if err := os.Remove(filepath.Join(dataDir, "pods", string(removed))); err != nil {
		t.Fatal(err)
	}

	r := newReleaseAgent(t, stateDir, dataDir)
	for _, uid := range []types.UID{finished, running, removed} {
		if !r.holds(uid) {
			t.Fatalf("%s lost its address over the restart", uid)
		}
	}
	for _, p := range []struct {
		uid   types.UID
		phase corev1.PodPhase
	}{{finished, corev1.PodSucceeded}, {running, corev1.PodRunning}} {
		pod := testPod(string(p.uid)[len("uid-"):], sh("main", "debian", "true"))
		pod.UID, pod.Status.Phase = p.uid, p.phase
		if err := r.pods.Add(pod); err != nil {
			t.Fatal(err)
		}
		r.workers[p.uid] = newPodWorker(r.Agent, pod)
	}
	r.releaseFinishedPodNetworks(r.m, false, 0, true)
	if r.holds(removed) || !r.holds(finished) {
		t.Fatalf("first pass: removed holds %v, finished holds %v", r.holds(removed), r.holds(finished))
	}
	r.clock.Step(finishedPodNetworkGrace)
	r.releaseFinishedPodNetworks(r.m, false, 0, true)
	if r.holds(finished) || !r.holds(running) {
		t.Fatalf("after the grace period: finished holds %v, running holds %v", r.holds(finished), r.holds(running))
	}
}

// BenchmarkReclaimPodNetworks is a node short of addresses freeing
// finished pods' networks, with the pods of a 10,000-pod Job finished on
// it (in the pod cache and in the data dir). "sweep" is the periodic
// pass with nothing due; "reclaim" frees the networks of five pods
// marked done (their set-up again is not timed).
func BenchmarkReclaimPodNetworks(b *testing.B) {
	const finished = 10000
	r := newReleaseAgent(b, b.TempDir(), b.TempDir())
	for i := 0; i < finished; i++ {
		r.addPod(b, fmt.Sprintf("job-%d", i), corev1.PodSucceeded, false, false)
	}
	uids := make([]types.UID, 5)
	for i := range uids {
		uids[i] = r.addPod(b, fmt.Sprintf("live-%d", i), corev1.PodRunning, true, true)
	}
	b.Run("sweep", func(b *testing.B) {
		defer cpuTimer(b)()
		for i := 0; i < b.N; i++ {
			r.releaseFinishedPodNetworks(r.m, false, 0, true)
		}
	})
	b.Run("reclaim", func(b *testing.B) {
		defer cpuTimer(b)()
		for i := 0; i < b.N; i++ {
			for _, uid := range uids {
				r.podNetworkDone(uid)
			}
			r.releaseFinishedPodNetworks(r.m, true, reclaimLimit(r.m), false)
			b.StopTimer()
			for _, uid := range uids {
				if _, err := r.m.Setup(string(uid)); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
		}
	})
}
