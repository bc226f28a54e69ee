package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/batchlet/batchlet/internal/fsutil"
	ctrruntime "github.com/batchlet/batchlet/internal/runtime"
	"github.com/batchlet/batchlet/internal/runtime/process"
)

func restarts(n int32) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool {
		return p != nil && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount == n &&
			p.Status.ContainerStatuses[0].State.Waiting != nil && p.Status.ContainerStatuses[0].State.Waiting.Reason == "CrashLoopBackOff"
	}
}

func TestRestartWithGrowingBackoff(t *testing.T) {
	h := startAgent(t, nil, "")
	pod := testPod("crash", sh("c", "debian", "echo run; exit 1"))
	pod.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	h.create(pod)
	// The first restart is immediate; the second waits 10 s.
	p := h.waitPod("crash", "back-off after 1 restart", restarts(1))
	cs := p.Status.ContainerStatuses[0]
	if !strings.HasPrefix(cs.State.Waiting.Message, "back-off 10s restarting failed container=c pod=crash_default(") ||
		cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 1 || p.Status.Phase != corev1.PodRunning {
		t.Fatalf("status after first crash = %+v", p.Status)
	}
	h.clock.Step(9 * time.Second)
	h.waitPod("crash", "still backing off", restarts(1))
	h.clock.Step(time.Second)
	p = h.waitPod("crash", "back-off after 2 restarts", restarts(2))
	if msg := p.Status.ContainerStatuses[0].State.Waiting.Message; !strings.HasPrefix(msg, "back-off 20s") {
		t.Fatalf("message = %q", msg)
	}
	h.clock.Step(20 * time.Second)
	h.waitPod("crash", "back-off after 3 restarts", restarts(3))
	if got := h.readLog(pod.UID, "c", 2); !strings.Contains(got, "run") {
		t.Fatalf("third attempt log = %q", got)
	}
}

func TestInitContainersRunInOrder(t *testing.T) {
	h := startAgent(t, nil, "")
	dir := t.TempDir()
	pod := testPod("init", sh("app", "debian", "cat "+dir+"/order"))
	pod.Spec.InitContainers = []corev1.Container{
		sh("i1", "debian", "echo one >> "+dir+"/order"),
		sh("i2", "debian", "echo two >> "+dir+"/order"),
	}
	h.create(pod)
	p := h.waitPod("init", "Succeeded", phaseIs(corev1.PodSucceeded))
	if got := h.readLog(pod.UID, "app", 0); !strings.Contains(got, "F one\n") || !strings.Contains(got, "F two\n") ||
		strings.Index(got, "one") > strings.Index(got, "two") {
		t.Fatalf("app log = %q", got)
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodInitialized && c.Status != corev1.ConditionTrue {
			t.Fatalf("Initialized = %+v", c)
		}
	}

	failing := testPod("initfail", sh("app", "debian", "true"))
	failing.Spec.InitContainers = []corev1.Container{sh("i1", "debian", "exit 2")}
	h.create(failing)
	p = h.waitPod("initfail", "Failed", phaseIs(corev1.PodFailed))
	if p.Status.ContainerStatuses[0].State.Waiting == nil || p.Status.ContainerStatuses[0].State.Waiting.Reason != "PodInitializing" {
		t.Fatalf("app container status = %+v", p.Status.ContainerStatuses[0])
	}
}

func TestGracefulTermination(t *testing.T) {
	h := startAgent(t, nil, "")
	h.create(testPod("polite", sh("c", "bash", "trap 'echo bye; exit 0' TERM; echo up; while true; do sleep 0.05; done")))
	h.create(testPod("stubborn", sh("c", "bash", "trap '' TERM; echo up; while true; do sleep 0.05; done")))
	h.create(testPod("pause", corev1.Container{Name: "c", Image: "registry.k8s.io/pause:3.10"}))
	for _, n := range []string{"polite", "stubborn", "pause"} {
		h.waitPod(n, "running", running)
	}
	// The trap is set before "up" is printed.
	for _, n := range []string{"polite", "stubborn"} {
		for !strings.Contains(h.readLog(podUID(n), "c", 0), "up") {
			time.Sleep(5 * time.Millisecond)
		}
	}
	for _, n := range []string{"polite", "stubborn", "pause"} {
		h.deleteGracefully(n, 30)
	}
	h.waitPod("polite", "removed after its trap ran", gone)
	h.waitPod("pause", "removed after SIGTERM", gone)
	// The stubborn one keeps running until the grace period ends.
	p := h.waitPod("stubborn", "still running", running)
	if p.DeletionTimestamp == nil {
		t.Fatal("stubborn pod lost its deletion timestamp")
	}
	h.clock.Step(29 * time.Second)
	h.waitPod("stubborn", "still running", running)
	h.clock.Step(time.Second)
	h.waitPod("stubborn", "killed at the deadline and removed", gone)
}

func podUID(name string) types.UID { return types.UID(name + "-uid") }

func TestActiveDeadline(t *testing.T) {
	h := startAgent(t, nil, "")
	pod := testPod("dl", sh("c", "debian", "sleep 60"))
	ads := int64(5)
	pod.Spec.ActiveDeadlineSeconds = &ads
	h.create(pod)
	h.waitPod("dl", "running", running)
	h.clock.Step(5 * time.Second)
	p := h.waitPod("dl", "Failed", phaseIs(corev1.PodFailed))
	if p.Status.Reason != "DeadlineExceeded" || p.Status.Message != messageDeadlineExceeded {
		t.Fatalf("status = %+v", p.Status)
	}
}

func TestSurvivesAgentRestart(t *testing.T) {
	h := startAgent(t, nil, "")
	h.create(testPod("survivor", sh("c", "debian", "while [ ! -e /tmp/never-$$$$ ]; do sleep 0.05; done")))
	p := h.waitPod("survivor", "running", running)
	id := p.Status.ContainerStatuses[0].ContainerID
	h.stop()

	h2 := startAgent(t, h.client, h.dir)
	p = h2.waitPod("survivor", "still running under the new agent", running)
	if p.Status.ContainerStatuses[0].ContainerID != id {
		t.Fatalf("container was restarted: %s != %s", p.Status.ContainerStatuses[0].ContainerID, id)
	}
	w := h2.agent.worker(p.UID)
	if w == nil {
		t.Fatal("no worker for adopted pod")
	}
	h2.deleteGracefully("survivor", 30)
	h2.waitPod("survivor", "removed", gone)
}

// TestAttemptNeverStartedIsMadeAgain: an attempt an earlier agent stopped
// at before the runtime took it (its spec on disk, nothing more) is not a
// lost container: the pod's container starts as if for the first time.
func TestAttemptNeverStartedIsMadeAgain(t *testing.T) {
	dir := t.TempDir()
	pod := testPod("again", sh("c", "debian", "echo ran"))
	attempt := attemptDir(filepath.Join(volatileDir(dir), "pods", string(pod.UID)), "c", 0)
	if err := os.MkdirAll(attempt, 0o750); err != nil {
		t.Fatal(err)
	}
	// The process runtime's spec file, as the agent leaves it when it stops
	// right after writing it.
	if err := os.WriteFile(filepath.Join(attempt, "spec.json"), []byte(`{"id":"never-started"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// The pod is bound before the agent starts, as after an agent restart.
	client := fake.NewClientset(pod)
	h := startAgent(t, client, dir)
	p := h.waitPod("again", "Succeeded", phaseIs(corev1.PodSucceeded))
	cs := p.Status.ContainerStatuses[0]
	if cs.RestartCount != 0 || cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 ||
		strings.HasSuffix(cs.ContainerID, "never-started") {
		t.Fatalf("container status = %+v, want one successful run of a new attempt", cs)
	}
	podDir := filepath.Join(dir, "pods", string(pod.UID))
	if got := attemptsOf(podDir, h.agent.podRunDir(pod.UID), "c"); len(got) != 1 || got[0].n != 0 || got[0].stateDir == "" {
		t.Fatalf("attempts = %v, want the one attempt 0", got)
	}
	if log, err := os.ReadFile(attemptLog(podDir, "c", 0)); err != nil || !strings.HasSuffix(string(log), " stdout F ran\n") {
		t.Fatalf("attempt 0 log = %q (%v), want the new run's output", log, err)
	}
}

// gatedRuntime holds every container start until release is closed.
type gatedRuntime struct {
	ctrruntime.Runtime
	entered chan struct{}
	once    sync.Once
	release chan struct{}
}

func (g *gatedRuntime) Start(ctx context.Context, cfg ctrruntime.ContainerConfig) (ctrruntime.Container, error) {
	g.once.Do(func() { close(g.entered) })
	<-g.release
	return g.Runtime.Start(ctx, cfg)
}

// TestStopWaitsForAContainerStartUnderWay: Run returns only once a
// worker in the middle of starting a container is through, so a stopping
// agent leaves no attempt half made.
func TestStopWaitsForAContainerStartUnderWay(t *testing.T) {
	dir := t.TempDir()
	inner, err := process.New(process.Options{Root: filepath.Join(dir, "runtime")})
	if err != nil {
		t.Fatal(err)
	}
	gate := &gatedRuntime{Runtime: inner, entered: make(chan struct{}), release: make(chan struct{})}
	h := startAgentMode(t, nil, dir, nil, IsolationOff, func(c *Config) { c.Runtime = gate })
	pod := testPod("gated", sh("c", "debian", "sleep 30"))
	h.create(pod)
	select {
	case <-gate.entered:
	case <-time.After(15 * time.Second):
		t.Fatal("the container start never began")
	}
	h.cancel()
	select {
	case <-h.done:
		t.Fatal("Run returned while a container start was under way")
	case <-time.After(200 * time.Millisecond):
	}
	close(gate.release)
	select {
	case <-h.done:
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return once the start was through")
	}
	attempt := attemptDir(filepath.Join(volatileDir(dir), "pods", string(pod.UID)), "c", 0)
	if _, err := os.Stat(filepath.Join(attempt, "state.json")); err != nil {
		t.Fatalf("the started attempt has no recorded state: %v", err)
	}
}

// TestAttemptLostInARestartIsNotRunAgain: after a reboot the run dir is
// empty but the data dir still has the logs of attempts that ran. Such an
// attempt is a lost container, as kubelet reports one: a Never pod fails
// instead of running its container a second time; an Always pod counts it
// as a restart.
func TestAttemptLostInARestartIsNotRunAgain(t *testing.T) {
	for _, tc := range []struct {
		policy corev1.RestartPolicy
		check  func(t *testing.T, h *harness, name string)
	}{
		{corev1.RestartPolicyNever, func(t *testing.T, h *harness, name string) {
			p := h.waitPod(name, "Failed", phaseIs(corev1.PodFailed))
			cs := p.Status.ContainerStatuses[0]
			if term := cs.State.Terminated; cs.RestartCount != 0 || term == nil || term.ExitCode != 137 || term.Reason != "ContainerStatusUnknown" {
				t.Fatalf("container status = %+v, want the lost attempt, terminated as ContainerStatusUnknown", cs)
			}
		}},
		{corev1.RestartPolicyAlways, func(t *testing.T, h *harness, name string) {
			p := h.waitPod(name, "running its second attempt", func(p *corev1.Pod) bool {
				return running(p) && p.Status.ContainerStatuses[0].RestartCount == 1
			})
			last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated
			if last == nil || last.Reason != "ContainerStatusUnknown" {
				t.Fatalf("last state = %+v, want the lost attempt", p.Status.ContainerStatuses[0].LastTerminationState)
			}
		}},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			dir, runDir := t.TempDir(), t.TempDir()
			name := "lost-" + strings.ToLower(string(tc.policy))
			pod := testPod(name, sh("c", "debian", "echo ran; sleep 30"))
			pod.Spec.RestartPolicy = tc.policy
			log := attemptLog(filepath.Join(dir, "pods", string(pod.UID)), "c", 0)
			if err := os.MkdirAll(filepath.Dir(log), 0o750); err != nil {
				t.Fatal(err)
			}
			const before = "2026-01-01T00:00:00Z stdout F before the restart\n"
			if err := os.WriteFile(log, []byte(before), 0o640); err != nil {
				t.Fatal(err)
			}
			h := startAgentMode(t, fake.NewClientset(pod), dir, nil, IsolationOff, func(c *Config) { c.RunDir = runDir })
			tc.check(t, h, name)
			if data, err := os.ReadFile(log); err != nil || string(data) != before {
				t.Fatalf("attempt 0 log = %q (%v): the lost attempt was run again", data, err)
			}
		})
	}
}

// TestPodStateOnTmpfs: by default the runtime's state and the /etc files
// go to a tmpfs, the logs to the data dir.
func TestPodStateOnTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	h := startAgent(t, nil, "")
	if !fsutil.InMemory(h.agent.cfg.RunDir) {
		t.Fatalf("run dir %s is not on a tmpfs", h.agent.cfg.RunDir)
	}
	pod := testPod("where", sh("c", "debian", "echo ran"))
	h.create(pod)
	h.waitPod("where", "Succeeded", phaseIs(corev1.PodSucceeded))
	got := attemptsOf(h.agent.podDir(pod.UID), h.agent.podRunDir(pod.UID), "c")
	if len(got) != 1 || !strings.HasPrefix(got[0].stateDir, h.agent.cfg.RunDir+"/") {
		t.Fatalf("attempts = %+v, want one with its state under %s", got, h.agent.cfg.RunDir)
	}
	if _, err := os.Stat(attemptLog(h.agent.podDir(pod.UID), "c", 0)); err != nil {
		t.Fatalf("the log is not in the data dir: %v", err)
	}
}
