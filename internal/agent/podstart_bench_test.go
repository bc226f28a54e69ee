package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"golang.org/x/sys/unix"

	"github.com/batchlet/batchlet/internal/fsutil"
	ctrruntime "github.com/batchlet/batchlet/internal/runtime"
)

// instantRuntime starts containers that have already exited with 0; its
// sandbox step makes the directory, as the process runtime's does. It
// leaves only the agent's own work in a pod start.
type instantRuntime struct{}

func (instantRuntime) PrepareSandbox(_ context.Context, cfg ctrruntime.SandboxConfig) error {
	return os.MkdirAll(cfg.Dir, 0o750)
}

func (instantRuntime) RemoveSandbox(context.Context, ctrruntime.SandboxConfig) error { return nil }

func (instantRuntime) Start(_ context.Context, cfg ctrruntime.ContainerConfig) (ctrruntime.Container, error) {
	return exitedContainer{id: cfg.ID, at: time.Now()}, nil
}

func (instantRuntime) Adopt(string) (ctrruntime.Container, error) {
	return nil, ctrruntime.ErrNotStarted
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

type exitedContainer struct {
	id string
	at time.Time
}

func (c exitedContainer) ID() string                  { return c.id }
func (c exitedContainer) StartedAt() time.Time        { return c.at }
func (c exitedContainer) Signal(syscall.Signal) error { return nil }
func (c exitedContainer) Done() <-chan struct{}       { return closedChan }
func (c exitedContainer) Exit() ctrruntime.Exit       { return ctrruntime.Exit{FinishedAt: c.at} }

// benchRunDir is a fresh directory on a tmpfs when /dev/shm is one, as the
// agent's run dir is, else a test directory.
func benchRunDir(tb testing.TB) string {
	tb.Helper()
	if fsutil.InMemory("/dev/shm") {
		dir, err := os.MkdirTemp("/dev/shm", "batchlet-bench-")
		if err == nil {
			tb.Cleanup(func() { _ = os.RemoveAll(dir) })
			return dir
		}
	}
	return tb.TempDir()
}

// benchAgent is an agent that isolates pods in the host network with a
// cluster DNS address, as a server's agent without a pod network runs
// them, on a client whose status writes cost next to nothing. Nothing it
// does needs root: its runtime runs nothing.
func benchAgent(b testing.TB) *Agent {
	b.Helper()
	// The node exists, so that publishing its pod network is done at once.
	client := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node1"}})
	client.PrependReactor("update", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, nil
	})
	dataDir := b.TempDir()
	runDir := benchRunDir(b)
	for _, d := range []string{dataDir, runDir} {
		if err := os.MkdirAll(filepath.Join(d, "pods"), 0o750); err != nil {
			b.Fatal(err)
		}
	}
	profiles, err := loadProfiles("", dataDir)
	if err != nil {
		b.Fatal(err)
	}
	a := &Agent{cfg: Config{NodeName: "node1", DataDir: dataDir, RunDir: runDir, ClusterDNS: "10.96.0.10",
		Isolation: IsolationOn, PodNetwork: PodNetworkConfig{Mode: PodNetworkOff}},
		client: client, clock: clocktesting.NewFakeClock(time.Now()), runtime: instantRuntime{}, profiles: profiles,
		nodeIP: "10.0.0.1", homeDir: "/root", isolate: true, workers: map[types.UID]*podWorker{},
		hostResolv: hostFile{path: hostResolvConfPath}}
	if err := a.podDirs.list(filepath.Join(dataDir, "pods"), filepath.Join(runDir, "pods")); err != nil {
		b.Fatal(err)
	}
	// Set up the host network before the timer starts.
	a.podNet()
	return a
}

// cpuTimer reports the process's CPU time per op, user and system: on a
// busy machine a better measure of work done than the time taken.
func cpuTimer(b *testing.B) func() {
	b.Helper()
	var start unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &start); err != nil {
		b.Fatal(err)
	}
	return func() {
		var end unix.Rusage
		if err := unix.Getrusage(unix.RUSAGE_SELF, &end); err != nil {
			b.Fatal(err)
		}
		ns := func(ru *unix.Rusage) int64 { return ru.Utime.Nano() + ru.Stime.Nano() }
		b.ReportMetric(float64(ns(&end)-ns(&start))/float64(b.N), "cpu-ns/op")
	}
}

func jobPod(i int) *corev1.Pod {
	grace := int64(30)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("job-%d-abcde", i), Namespace: "default",
			UID: types.UID(fmt.Sprintf("00000000-0000-0000-0000-%012d", i)), ResourceVersion: "1",
			Labels: map[string]string{"job-name": "job", "batch.kubernetes.io/job-completion-index": "0"}},
		Spec: corev1.PodSpec{NodeName: "node1", RestartPolicy: corev1.RestartPolicyNever, TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{Name: "c", Image: "debian", Command: []string{"/bin/true"}}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}},
	}
}

// BenchmarkPodWorkerStart runs the agent's side of a short pod: the sync
// that sets up its sandbox and starts its container, and the one that
// reports it Succeeded.
func BenchmarkPodWorkerStart(b *testing.B) {
	a := benchAgent(b)
	ctx := context.Background()
	pods := make([]*corev1.Pod, b.N)
	for i := range pods {
		pods[i] = jobPod(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	defer cpuTimer(b)()
	for i := 0; i < b.N; i++ {
		w := newPodWorker(a, pods[i])
		w.sync(ctx)
		// The container has exited: the next sync reports the pod.
		w.sync(ctx)
		if w.holdTimer != nil {
			w.holdTimer.Stop()
		}
		if w.lastStatus == nil || w.lastStatus.Phase != corev1.PodSucceeded {
			b.Fatalf("pod %d: status %+v", i, w.lastStatus)
		}
	}
}

// BenchmarkSetUpPod is the per-pod sandbox set-up of a pod without
// volumes: its /etc files and resolv.conf.
func BenchmarkSetUpPod(b *testing.B) {
	a := benchAgent(b)
	ctx := context.Background()
	pods := make([]*corev1.Pod, b.N)
	for i := range pods {
		pods[i] = jobPod(i)
		if err := os.MkdirAll(filepath.Join(a.podRunDir(pods[i].UID), "sandbox"), 0o750); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	defer cpuTimer(b)()
	for i := 0; i < b.N; i++ {
		uid := pods[i].UID
		if _, err := a.setUpPod(ctx, pods[i], filepath.Join(a.podDir(uid), "sandbox"), filepath.Join(a.podRunDir(uid), "sandbox")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPodStatus computes a finished pod's status and compares it with
// the last one written, as each sync does.
func BenchmarkPodStatus(b *testing.B) {
	pod := jobPod(0)
	now := time.Now()
	e := ctrruntime.Exit{FinishedAt: now}
	ctrs := []*ctrState{{name: "c", image: "debian", attempts: 1, current: &attempt{id: newContainerID(), started: now, exit: &e}}}
	view := podView{ctrs: ctrs, startTime: now, nodeIP: "10.0.0.1", sandboxReady: true}
	last := computeStatus(pod, view, now)
	normalizeStatusTimes(&last)
	w := &podWorker{lastStatus: &last}
	b.ReportAllocs()
	b.ResetTimer()
	defer cpuTimer(b)()
	for i := 0; i < b.N; i++ {
		st := computeStatus(w.base(pod), view, now)
		normalizeStatusTimes(&st)
		if !statusEqual(w.lastStatus, &st) {
			b.Fatal("status changed")
		}
	}
}

// BenchmarkHostResolvConf reads the host's resolv.conf as each pod's
// set-up does: a read of the file each time ("read") or a stat against
// the content kept ("kept").
func BenchmarkHostResolvConf(b *testing.B) {
	b.Run("read", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuTimer(b)()
		for i := 0; i < b.N; i++ {
			_, _ = os.ReadFile(hostResolvConfPath)
		}
	})
	b.Run("kept", func(b *testing.B) {
		f := hostFile{path: hostResolvConfPath}
		f.read()
		b.ReportAllocs()
		b.ResetTimer()
		defer cpuTimer(b)()
		for i := 0; i < b.N; i++ {
			f.read()
		}
	})
}
