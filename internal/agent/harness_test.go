package agent

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/batchlet/batchlet/internal/pki"
	ctrruntime "github.com/batchlet/batchlet/internal/runtime"
	"github.com/batchlet/batchlet/internal/runtime/process"
	"github.com/batchlet/batchlet/internal/runtime/sandbox"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == process.ShimSubcommand {
		os.Exit(process.ShimMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == sandbox.InitSubcommand {
		os.Exit(sandbox.InitMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

type harness struct {
	t      testing.TB
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	agent  *Agent
	dir    string
	cancel context.CancelFunc
	done   chan struct{}
}

func startAgent(t testing.TB, client *fake.Clientset, dir string) *harness {
	return startAgentCfg(t, client, dir, nil)
}

// startAgentWithClientCert starts an agent whose API trusts a fresh cluster
// CA and returns the client certificate the apiserver would call it with.
func startAgentWithClientCert(t *testing.T) (*harness, *pki.KeyPair) {
	t.Helper()
	ca, err := pki.LoadOrCreateCA(t.TempDir(), "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueClient("apiserver", nil)
	if err != nil {
		t.Fatal(err)
	}
	return startAgentCfg(t, nil, "", ca.Pool()), cert
}

// startAgentCfg runs containers as plain host processes: the lifecycle
// tests rely on host signal semantics (a PID 1 ignores unhandled signals).
func startAgentCfg(t testing.TB, client *fake.Clientset, dir string, pool *x509.CertPool) *harness {
	t.Helper()
	return startAgentMode(t, client, dir, pool, IsolationOff)
}

// startAgentMode starts an agent with the given isolation; opts adjust its
// configuration further.
func startAgentMode(t testing.TB, client *fake.Clientset, dir string, pool *x509.CertPool, mode IsolationMode, opts ...func(*Config)) *harness {
	t.Helper()
	if client == nil {
		client = fake.NewClientset()
	}
	if dir == "" {
		dir = t.TempDir()
	}
	separateStatus(client)
	h := &harness{t: t, client: client, clock: clocktesting.NewFakeClock(time.Now()), dir: dir, done: make(chan struct{})}
	cfg := Config{NodeName: "node1", Client: client, DataDir: dir, ListenAddress: "127.0.0.1:0",
		NodeIP: "127.0.0.1", Clock: h.clock, ClientCA: pool, Isolation: mode}
	// BATCHLET_TEST_SHIM names a dedicated shim binary to run containers
	// with instead of the test binary itself.
	if shim := os.Getenv("BATCHLET_TEST_SHIM"); shim != "" {
		rt, err := process.New(process.Options{ShimCommand: []string{shim, process.ShimSubcommand}})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Runtime = rt
	}
	for _, o := range opts {
		o(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.agent = a
	watches := watchCounterFor(client)
	podWatches, svcWatches := watches.count("pods"), watches.count("services")
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		defer close(h.done)
		if err := a.Run(ctx); err != nil {
			t.Errorf("agent: %v", err)
		}
	}()
	select {
	case <-a.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("agent not ready")
	}
	// The fake clientset's watches do not resume from the list's
	// resourceVersion, as the apiserver's do: an object created between
	// an informer's list and its watch would be lost. Tests create
	// objects only once the agent's informers watch.
	watches.waitAbove(t, "pods", podWatches)
	watches.waitAbove(t, "services", svcWatches)
	// Cleanups run last-in first-out: the agent stops first, then every
	// container it started is killed, so no shim outlives the test. Tests
	// that restart the agent on the same directory still find their
	// containers running until the test ends.
	t.Cleanup(func() { killContainers(t, a.runtime, dir) })
	t.Cleanup(h.stop)
	return h
}

// watchCounter counts the watches opened on a fake clientset, per
// resource.
type watchCounter struct {
	mu      sync.Mutex
	n       map[string]int
	changed chan struct{}
}

var watchCounters sync.Map // *fake.Clientset -> *watchCounter

// watchCounterFor installs (once per client) a watch reactor that opens
// the watch itself, so that a counted watch is already registered.
func watchCounterFor(client *fake.Clientset) *watchCounter {
	v, loaded := watchCounters.LoadOrStore(client, &watchCounter{n: map[string]int{}, changed: make(chan struct{})})
	wc := v.(*watchCounter)
	if !loaded {
		client.PrependWatchReactor("*", func(action k8stesting.Action) (bool, watch.Interface, error) {
			w, err := client.Tracker().Watch(action.GetResource(), action.GetNamespace())
			if err == nil {
				wc.add(action.GetResource().Resource)
			}
			return true, w, err
		})
	}
	return wc
}

func (wc *watchCounter) add(resource string) {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	wc.n[resource]++
	close(wc.changed)
	wc.changed = make(chan struct{})
}

func (wc *watchCounter) count(resource string) int {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	return wc.n[resource]
}

// waitAbove waits until more than n watches on resource were opened.
func (wc *watchCounter) waitAbove(t testing.TB, resource string, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		wc.mu.Lock()
		got, changed := wc.n[resource], wc.changed
		wc.mu.Unlock()
		if got > n {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("the agent never watched %s", resource)
		}
	}
}

// killContainers kills every container attempt recorded for an agent of
// dataDir and waits for it to end.
func killContainers(t testing.TB, rt ctrruntime.Runtime, dataDir string) {
	runDir := volatileDir(dataDir)
	pods, _ := os.ReadDir(filepath.Join(runDir, "pods"))
	for _, p := range pods {
		podDir := filepath.Join(dataDir, "pods", p.Name())
		podRunDir := filepath.Join(runDir, "pods", p.Name())
		ctrs, _ := os.ReadDir(podRunDir)
		for _, c := range ctrs {
			for _, at := range attemptsOf(podDir, podRunDir, c.Name()) {
				if at.stateDir == "" {
					continue
				}
				ctr, err := rt.Adopt(at.stateDir)
				if err != nil {
					continue
				}
				_ = ctr.Signal(syscall.SIGKILL)
				select {
				case <-ctr.Done():
				case <-time.After(10 * time.Second):
					t.Errorf("container %s/%d of pod %s did not end after SIGKILL", c.Name(), at.n, p.Name())
				}
			}
		}
	}
}

var statusSeparated sync.Map // of *fake.Clientset

// separateStatus makes the fake clientset's pods/status updates behave as
// the apiserver's: only the status is taken from the request, so a status
// write racing a metadata change (a deletion timestamp) cannot undo it.
func separateStatus(client *fake.Clientset) {
	// A client shared by a restarted agent has its reactor already; adding
	// another would race with the first agent's lingering readers.
	if _, done := statusSeparated.LoadOrStore(client, true); done {
		return
	}
	tracker := client.Tracker()
	podsGVR := corev1.SchemeGroupVersion.WithResource("pods")
	client.PrependReactor("update", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "status" {
			return false, nil, nil
		}
		req := action.(k8stesting.UpdateAction).GetObject().(*corev1.Pod)
		cur, err := tracker.Get(podsGVR, req.Namespace, req.Name)
		if err != nil {
			return true, nil, err
		}
		merged := cur.(*corev1.Pod).DeepCopy()
		merged.Status = *req.Status.DeepCopy()
		if err := tracker.Update(podsGVR, merged, req.Namespace); err != nil {
			return true, nil, err
		}
		return true, merged, nil
	})
}

func (h *harness) stop() {
	h.cancel()
	<-h.done
}

func testPod(name string, ctrs ...corev1.Container) *corev1.Pod {
	grace := int64(30)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid"),
			Labels: map[string]string{"app": "demo"}, Annotations: map[string]string{"note": "hi"}},
		Spec: corev1.PodSpec{NodeName: "node1", Containers: ctrs, RestartPolicy: corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: &grace},
	}
}

func sh(name, image, script string) corev1.Container {
	return corev1.Container{Name: name, Image: image, Command: []string{"sh", "-c", script}}
}

func (h *harness) create(pod *corev1.Pod) {
	h.t.Helper()
	if _, err := h.client.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// waitPod polls the API until cond holds for the pod (nil when deleted).
func (h *harness) waitPod(name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last *corev1.Pod
	for time.Now().Before(deadline) {
		p, err := h.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			p = nil
		}
		last = p
		if cond(p) {
			return p
		}
		time.Sleep(5 * time.Millisecond)
	}
	if last != nil {
		h.t.Fatalf("pod %s: timed out waiting for %s; status: %+v", name, what, last.Status)
	}
	h.t.Fatalf("pod %s: timed out waiting for %s (pod gone)", name, what)
	return nil
}

func phaseIs(ph corev1.PodPhase) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool { return p != nil && p.Status.Phase == ph }
}

func running(p *corev1.Pod) bool {
	return p != nil && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Running != nil
}

func gone(p *corev1.Pod) bool { return p == nil }

// deleteGracefully does what the apiserver does on a graceful delete.
func (h *harness) deleteGracefully(name string, grace int64) {
	h.t.Helper()
	p, err := h.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	now := metav1.Now()
	p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &now, &grace
	if _, err := h.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) readLog(uid types.UID, container string, n int) string {
	h.t.Helper()
	var b []byte
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(attemptLog(h.agent.podDir(uid), container, n))
		if err == nil {
			b = data
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return string(b)
}
