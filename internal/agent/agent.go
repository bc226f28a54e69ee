// Package agent is the node agent: an ordinary API client that registers
// its Node, heartbeats a Lease, runs the pods bound to it through a
// container runtime, reports their status through pods/status and serves
// their logs on the agent API.
package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/batchlet/batchlet/internal/cachesync"
	"github.com/batchlet/batchlet/internal/runtime"
	"github.com/batchlet/batchlet/internal/runtime/process"
	"github.com/batchlet/batchlet/internal/runtime/sandbox/cgroups"
)

// Config wires an agent.
type Config struct {
	NodeName string
	Client   kubernetes.Interface
	// DataDir holds logs, volumes and the pods' private /tmp directories.
	DataDir string
	// RunDir holds what a reboot may lose: container state and the pods'
	// /etc files. Empty means a directory on a tmpfs under /run/batchlet
	// when the host allows one, else DataDir/run.
	RunDir string
	// ListenAddress is host:port for the agent API; port 0 picks a free one.
	ListenAddress string
	// NodeIP is the advertised InternalIP; default: the host's primary IP,
	// or 127.0.0.1.
	NodeIP string
	// ClientCA verifies client certificates on the agent API; without it
	// every request is refused.
	ClientCA *x509.CertPool
	// ServingCert is the agent API's certificate; nil generates a
	// self-signed one.
	ServingCert *tls.Certificate
	Clock       clock.WithTicker
	// MaxPods is the node's pod capacity, as kubelet's --max-pods;
	// zero means kubelet's default, 110.
	MaxPods int
	// ProfilesFile optionally adds user image profiles.
	ProfilesFile string
	// Runtime runs containers; nil means the process runtime.
	Runtime runtime.Runtime
	// ClusterDNS is the cluster DNS Service's address written into pods'
	// resolv.conf; empty keeps the host's resolver for every pod.
	ClusterDNS string
	// ClusterDomain is the DNS domain of the cluster; default cluster.local.
	ClusterDomain string
	// Isolation says whether containers run in namespaces with their
	// volumes mounted and cgroup limits; the zero value detects it (root
	// on Linux).
	Isolation IsolationMode
	// PodNetwork says whether and how pods get network namespaces of
	// their own.
	PodNetwork PodNetworkConfig
}

// Agent is a node agent.
type Agent struct {
	cfg      Config
	client   kubernetes.Interface
	clock    clock.WithTicker
	runtime  runtime.Runtime
	profiles *profileTable
	nodeIP   string
	homeDir  string
	// isolate runs containers in namespaces with their mounts and limits.
	isolate bool
	cgroups *cgroups.Manager
	// hostResolv is the host's resolv.conf, which pods' are rendered from.
	hostResolv hostFile
	// podDirs tells new pods from pods an earlier agent may have left
	// attempts of.
	podDirs podDirSet

	listener net.Listener
	tlsCert  tls.Certificate
	ready    chan struct{}

	podLister corelisters.PodLister
	// podIndex is the pod cache with podUIDIndex, under mu; nil until
	// Run made it.
	podIndex cache.Indexer
	// svcLister feeds service environment variables; nil until synced.
	svcLister corelisters.ServiceLister
	node      nodeState

	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder

	// net is the pod network, set up on first use (podNet).
	net podNetwork
	// podIPs maps a pod's UID to its own address until its worker has
	// cleaned up or its directory is found gone: a finished pod's status
	// keeps its address.
	podIPs sync.Map
	// netDone maps a pod's UID to when its network stopped being needed.
	netDone sync.Map

	mu      sync.Mutex
	workers map[types.UID]*podWorker
	runCtx  context.Context
	// workersDone is set once Run stops taking pods; running counts the
	// worker goroutines Run waits for before it returns.
	workersDone bool
	running     sync.WaitGroup
}

// New validates cfg and prepares an agent; Run starts it.
func New(cfg Config) (*Agent, error) {
	if cfg.NodeName == "" || cfg.Client == nil || cfg.DataDir == "" {
		return nil, errors.New("agent: NodeName, Client and DataDir are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.ListenAddress == "" {
		cfg.ListenAddress = "0.0.0.0:0"
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("agent data dir: %w", err)
	}
	cfg.DataDir = dataDir
	if err := os.MkdirAll(filepath.Join(dataDir, "pods"), 0o750); err != nil {
		return nil, fmt.Errorf("creating agent data dir: %w", err)
	}
	if cfg.RunDir == "" {
		cfg.RunDir = volatileDir(dataDir)
	}
	if cfg.RunDir, err = filepath.Abs(cfg.RunDir); err != nil {
		return nil, fmt.Errorf("agent run dir: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(cfg.RunDir, "pods"), 0o750); err != nil {
		return nil, fmt.Errorf("creating agent run dir: %w", err)
	}
	rt := cfg.Runtime
	if rt == nil {
		// One supervisor per data dir: agents of different clusters on one
		// host (and their tests) never share one.
		prt, err := process.New(process.Options{Root: filepath.Join(dataDir, "runtime")})
		if err != nil {
			return nil, err
		}
		rt = prt
	}
	profiles, err := loadProfiles(cfg.ProfilesFile, dataDir)
	if err != nil {
		return nil, err
	}
	nodeIP := cfg.NodeIP
	if nodeIP == "" {
		nodeIP = primaryIP()
	}
	home := os.Getenv("HOME")
	if home == "" {
		home = "/root"
	}
	a := &Agent{
		cfg: cfg, client: cfg.Client, clock: cfg.Clock, runtime: rt, profiles: profiles,
		nodeIP: nodeIP, homeDir: home, ready: make(chan struct{}), workers: map[types.UID]*podWorker{},
		isolate: cfg.Isolation.enabled(), cgroups: cgroups.Detect(cgroups.Options{}),
		hostResolv: hostFile{path: hostResolvConfPath},
	}
	if err := a.podDirs.list(filepath.Join(dataDir, "pods"), filepath.Join(cfg.RunDir, "pods")); err != nil {
		// Then each new pod is searched for attempts of an earlier agent.
		slog.Warn("pods of an earlier agent not known", "err", err)
	}
	if cfg.ServingCert != nil {
		a.tlsCert = *cfg.ServingCert
	} else {
		cert, err := selfSignedCert(cfg.NodeName, nodeIP)
		if err != nil {
			return nil, err
		}
		a.tlsCert = cert
	}
	return a, nil
}

// Ready is closed once the Node is registered Ready and the agent API
// listens.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Run runs the agent until ctx ends. Containers keep running after it
// returns; a later agent re-adopts them.
func (a *Agent) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.ListenAddress)
	if err != nil {
		return fmt.Errorf("agent API listen: %w", err)
	}
	a.listener = ln
	if c, ok := a.runtime.(io.Closer); ok {
		// The runtime lets go of what it holds for the agent; the
		// supervisor and running containers stay.
		defer c.Close()
	}
	srv := a.apiServer()
	go func() { _ = srv.Serve(tls.NewListener(ln, srv.TLSConfig)) }()
	defer srv.Close()

	a.broadcaster, a.recorder = newRecorder(a)
	defer a.broadcaster.Shutdown()
	if err := a.registerNode(ctx); err != nil {
		return err
	}
	a.mu.Lock()
	a.runCtx = ctx
	a.mu.Unlock()
	// The pod network (and its Node annotation) before the first pod.
	a.podNet()

	factory := informers.NewSharedInformerFactoryWithOptions(a.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = "spec.nodeName=" + a.cfg.NodeName
		}))
	podInformer := factory.Core().V1().Pods()
	if err := podInformer.Informer().AddIndexers(cache.Indexers{podUIDIndex: podUIDIndexFunc}); err != nil {
		return fmt.Errorf("pod informer: %w", err)
	}
	a.podLister = podInformer.Lister()
	a.mu.Lock()
	a.podIndex = podInformer.Informer().GetIndexer()
	a.mu.Unlock()
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.podChanged(obj) },
		UpdateFunc: func(_, obj any) { a.podChanged(obj) },
		DeleteFunc: a.podDeleted,
	}); err != nil {
		return fmt.Errorf("pod informer: %w", err)
	}
	// Services first: pods started before they are known would miss
	// their environment variables.
	svcFactory := informers.NewSharedInformerFactory(a.client, 0)
	svcInformer := svcFactory.Core().V1().Services()
	svcInformer.Informer()
	svcFactory.Start(ctx.Done())
	defer svcFactory.Shutdown()
	if !cachesync.Wait(ctx, svcInformer.Informer().HasSynced) {
		return ctx.Err()
	}
	a.mu.Lock()
	a.svcLister = svcInformer.Lister()
	a.mu.Unlock()
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cachesync.Wait(ctx, podInformer.Informer().HasSynced) {
		return ctx.Err()
	}
	go a.cleanupOrphans(ctx)
	go a.heartbeat(ctx)
	close(a.ready)
	<-ctx.Done()
	// Workers finish the step they are in (a container start among
	// them), so that no attempt is left half made for the next agent.
	a.mu.Lock()
	a.workersDone = true
	a.mu.Unlock()
	a.running.Wait()
	// A server stopping right after its agent would otherwise leave the
	// namespaces of finished pods behind until its next start.
	if released := a.net.released; released != nil {
		<-released
	}
	return nil
}

func (a *Agent) podChanged(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName != a.cfg.NodeName {
		return
	}
	a.mu.Lock()
	if a.workersDone {
		a.mu.Unlock()
		return
	}
	w, ok := a.workers[pod.UID]
	if !ok {
		w = newPodWorker(a, pod)
		a.workers[pod.UID] = w
		a.running.Add(1)
		go func() {
			defer a.running.Done()
			w.run(a.runCtx)
		}()
	}
	a.mu.Unlock()
	if ok {
		w.update(pod)
	}
}

func (a *Agent) podDeleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	a.mu.Lock()
	w := a.workers[pod.UID]
	a.mu.Unlock()
	if w != nil {
		w.markGone()
	}
}

func (a *Agent) removeWorker(uid types.UID, w *podWorker) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.workers[uid] == w {
		delete(a.workers, uid)
	}
}

func (a *Agent) worker(uid types.UID) *podWorker {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.workers[uid]
}

// deletePod removes a pod whose processes are gone, finishing a graceful
// deletion with grace 0.
func (a *Agent) deletePod(ctx context.Context, pod *corev1.Pod) error {
	zero := int64(0)
	uid := pod.UID
	err := a.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero,
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// containerConfig resolves a container into what the runtime runs.
func (a *Agent) containerConfig(ctx context.Context, pod *corev1.Pod, c *corev1.Container) (runtime.ContainerConfig, error) {
	profile, hasProfile := a.profiles.lookup(c.Image)
	a.mu.Lock()
	svcs := a.svcLister
	a.mu.Unlock()
	src := &envSource{client: a.client, allocatable: a.node.allocatable(), nodeIP: a.nodeIP, podIP: a.podIP(pod.UID), services: svcs}
	env, err := src.containerEnv(ctx, pod, c, profile, a.homeDir)
	if err != nil {
		return runtime.ContainerConfig{}, err
	}
	command := make([]string, len(c.Command))
	for i, s := range c.Command {
		command[i] = expand(s, env.lookup)
	}
	args := make([]string, len(c.Args))
	for i, s := range c.Args {
		args[i] = expand(s, env.lookup)
	}
	argv, err := resolveArgv(command, args, profile, hasProfile, c.Image, c.Name)
	if err != nil {
		return runtime.ContainerConfig{}, err
	}
	dir := c.WorkingDir
	if dir == "" {
		dir = "/"
	}
	return runtime.ContainerConfig{Argv: argv, Env: env.environ(), WorkingDir: dir,
		Stdin: c.Stdin, StdinOnce: c.StdinOnce, TTY: c.TTY}, nil
}

// cleanupOrphans stops and removes containers of pods that no longer exist.
func (a *Agent) cleanupOrphans(ctx context.Context) {
	// Compared with file modification times: the wall clock, not the
	// agent's (possibly fake) one.
	pruneProfileState(a.cfg.DataDir, time.Now())
	known := map[types.UID]bool{}
	pods, _ := a.podLister.List(labelsEverything())
	for _, p := range pods {
		known[p.UID] = true
	}
	orphans := map[types.UID]bool{}
	for _, root := range []string{filepath.Join(a.cfg.DataDir, "pods"), filepath.Join(a.cfg.RunDir, "pods")} {
		names, _ := readDirNames(root)
		for _, name := range names {
			if uid := types.UID(name); !known[uid] && a.worker(uid) == nil {
				orphans[uid] = true
			}
		}
	}
	for uid := range orphans {
		dir, runDir := a.podDir(uid), a.podRunDir(uid)
		containers := map[string]bool{}
		for _, d := range []string{runDir, dir} {
			names, _ := readDirNames(d)
			for _, n := range names {
				containers[n] = true
			}
		}
		for c := range containers {
			for _, at := range attemptsOf(dir, runDir, c) {
				if at.stateDir == "" {
					continue
				}
				if ctr, err := a.runtime.Adopt(at.stateDir); err == nil {
					_ = ctr.Signal(9)
					select {
					case <-ctr.Done():
					case <-ctx.Done():
						return
					case <-time.After(5 * time.Second):
					}
				}
			}
		}
		// The run dir first: the data dir's is what says the pod is here.
		for _, d := range []string{runDir, dir} {
			if err := os.RemoveAll(d); err != nil {
				slog.Warn("removing orphaned pod directory", "dir", d, "err", err)
			}
		}
	}
}
