package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/ptr"

	"github.com/batchlet/batchlet/internal/agent"
	"github.com/batchlet/batchlet/internal/server"
)

// JobOptions configures the Job benchmark.
type JobOptions struct {
	Completions int    // of the throughput Job (default 10,000)
	Parallelism int    // its parallelism, and the concurrency of the bare spawn loop (default 200)
	LatencyJobs int    // Jobs created one after another for start latency (default 100)
	DataDir     string // the server's data dir (default: a temporary one beside the server's default, removed at the end)
	CPUProfile  string // if set, a CPU profile of this process during the throughput Job
	// MemProfile, if set, gets this process's allocation profile at the end
	// of the throughput Job, and MemProfile+".base" the one at its start:
	// `go tool pprof -base` of the two is what the Job allocated.
	MemProfile string
	// PodStages keeps watching pods during the throughput Job, to report
	// each pod's stages and writes. The watch is the harness's, but its
	// serving and decoding are charged to the server process it shares
	// (about 3 % of the server's CPU per pod), so it is off by default.
	PodStages bool
	// BareOneCPU also measures the bare spawn loop with every process on
	// one CPU. On the project's VMs that loop is faster than the one
	// spread over both CPUs, whose processes pay for each other's TLB
	// shootdowns; the report names both, the goal stays the first.
	BareOneCPU bool
	// MaxPods is the node's pod capacity (default: the parallelism, or
	// kubelet's 110 if that is more), so that the Job's pods run at the
	// concurrency of the bare loop rather than queue for a slot.
	MaxPods int
}

// JobResult is what one run of the Job benchmark measured.
type JobResult struct {
	BareRate float64 // /bin/true started and reaped per second at Parallelism
	// BareOneCPURate is the same with every process on CPU 0 (BareOneCPU).
	BareOneCPURate float64
	ToComplete     time.Duration // throughput Job: creation to its Complete condition
	PodsPerSec     float64
	// CPU per pod of the throughput Job: this process (apiserver, etcd,
	// controllers, scheduler, agent) and its reaped descendants (shims,
	// sandbox init steps, containers). Unlike pods/s, it barely depends
	// on what else the machine is running.
	ServerCPU, ChildCPU time.Duration
	// ServerSysCPU is the part of ServerCPU spent in the kernel.
	ServerSysCPU time.Duration
	// MachineCPU is the whole machine's busy time per pod during the
	// throughput Job, from /proc/stat: the processes above, whatever
	// else ran, and the kernel's own threads and interrupts.
	MachineCPU time.Duration
	// NodePods is the pod capacity the node reported.
	NodePods int64
	// Start latency per Job, split at the points the harness observes:
	// creation → pod seen (controller), → pod bound (scheduler),
	// → container started by the agent's record (agent).
	Total, Controller, Scheduler, Agent Durations
}

// jobNamespace holds everything the harness creates.
const jobNamespace = "default"

// Job measures the Job controller, scheduler and agent together on an
// in-process server: an Indexed Job's pods/s against the machine's bare
// spawn rate, and the latency from Job creation to first container start.
func Job(ctx context.Context, w io.Writer, opts JobOptions) (*JobResult, error) {
	if opts.Completions <= 0 {
		opts.Completions = 10000
	}
	if opts.Parallelism <= 0 {
		opts.Parallelism = 200
	}
	if opts.LatencyJobs <= 0 {
		opts.LatencyJobs = 100
	}
	if opts.MaxPods <= 0 {
		opts.MaxPods = max(opts.Parallelism, agent.DefaultMaxPods)
	}
	dataDir := opts.DataDir
	if dataDir == "" {
		tmp, err := tempDir("batchlet-bench-job-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dataDir = tmp
	}
	srv, client, err := jobStartServer(ctx, dataDir, opts.MaxPods)
	if err != nil {
		return nil, err
	}
	defer srv.Close()

	res := &JobResult{}
	if res.NodePods, err = jobNodePods(ctx, client); err != nil {
		return nil, err
	}
	report(w, "node %s: room for %d pods (status.capacity), Job parallelism %d", jobNodeName, res.NodePods, opts.Parallelism)
	if res.BareRate, err = jobBareSpawnRate(ctx, "/bin/true", opts.Parallelism, opts.Completions); err != nil {
		return nil, fmt.Errorf("bare spawn rate: %w", err)
	}
	report(w, "bare machine: /bin/true started and reaped at concurrency %d: %.0f processes/s (%d processes)",
		opts.Parallelism, res.BareRate, opts.Completions)
	if opts.BareOneCPU {
		if res.BareOneCPURate, err = jobBareSpawnRateOneCPU(ctx, "/bin/true", opts.Parallelism, opts.Completions); err != nil {
			return nil, fmt.Errorf("bare spawn rate on one CPU: %w", err)
		}
		report(w, "bare machine, every process on CPU 0: %.0f processes/s", res.BareOneCPURate)
	}

	pw := newJobPodWatch()
	stop := make(chan struct{})
	stopWatch := sync.OnceFunc(func() { close(stop) })
	defer stopWatch()
	if err := pw.start(ctx, client, stop); err != nil {
		return nil, err
	}
	// The runtime's state of each container is in the agent's run dir.
	runDir := agent.DefaultRunDir(filepath.Join(dataDir, "agent"))
	if err := jobStartLatency(ctx, client, pw, runDir, opts.LatencyJobs, res); err != nil {
		return nil, fmt.Errorf("start latency: %w", err)
	}
	report(w, "Job creation → first container started (%d Jobs one after another): p50 %s, p99 %s",
		len(res.Total), ms(res.Total.Median()), ms(res.Total.Percentile(99)))
	report(w, "  of which controller (→ pod created and seen) p50 %s p99 %s; scheduler (→ bound) p50 %s p99 %s; agent (→ started) p50 %s p99 %s",
		ms(res.Controller.Median()), ms(res.Controller.Percentile(99)), ms(res.Scheduler.Median()), ms(res.Scheduler.Percentile(99)),
		ms(res.Agent.Median()), ms(res.Agent.Percentile(99)))

	if !opts.PodStages {
		stopWatch()
	}
	stopProfile, err := jobCPUProfile(opts.CPUProfile)
	if err != nil {
		return nil, err
	}
	if err := writeAllocsProfile(opts.MemProfile, ".base"); err != nil {
		return nil, err
	}
	busy0, idle0, err := machineCPU()
	if err != nil {
		return nil, err
	}
	self0, sys0, children0 := jobCPUSplit()
	// The supervisor reaps the containers: their CPU is its children's.
	children0 += supervisorsCPU()
	res.ToComplete, err = jobRunIndexed(ctx, client, "throughput", opts.Completions, opts.Parallelism)
	self1, sys1, children1 := jobCPUSplit()
	children1 += supervisorsCPU()
	busy1, idle1, statErr := machineCPU()
	stopProfile()
	if err != nil {
		return nil, fmt.Errorf("throughput job: %w", err)
	}
	if statErr != nil {
		return nil, statErr
	}
	if err := writeAllocsProfile(opts.MemProfile, ""); err != nil {
		return nil, err
	}
	res.PodsPerSec = float64(opts.Completions) / res.ToComplete.Seconds()
	report(w, "Indexed Job, completions %d, parallelism %d, /bin/true: Complete in %.1f s, %.0f pods/s = %.0f %% of the bare rate",
		opts.Completions, opts.Parallelism, res.ToComplete.Seconds(), res.PodsPerSec, 100*res.PodsPerSec/res.BareRate)
	res.ServerCPU = (self1 - self0) / time.Duration(opts.Completions)
	res.ServerSysCPU = (sys1 - sys0) / time.Duration(opts.Completions)
	res.ChildCPU = (children1 - children0) / time.Duration(opts.Completions)
	report(w, "  CPU per pod: %s = server process %s (%s in the kernel) + shims, sandbox init and containers %s",
		ms(res.ServerCPU+res.ChildCPU), ms(res.ServerCPU), ms(res.ServerSysCPU), ms(res.ChildCPU))
	res.MachineCPU = (busy1 - busy0) / time.Duration(opts.Completions)
	idleShare := 0.0
	if all := (busy1 - busy0) + (idle1 - idle0); all > 0 {
		idleShare = 100 * float64(idle1-idle0) / float64(all)
	}
	report(w, "  the whole machine: %s busy per pod (every process and the kernel's threads), %.0f %% idle",
		ms(res.MachineCPU), idleShare)
	if !opts.PodStages {
		return res, nil
	}
	unbound, starting, running, counting := pw.stages()
	report(w, "  per pod, p50/p99: created → bound %s/%s; bound → running %s/%s; running → finished %s/%s; finished → counted (finalizer removed) %s/%s",
		ms(unbound.Median()), ms(unbound.Percentile(99)), ms(starting.Median()), ms(starting.Percentile(99)),
		ms(running.Median()), ms(running.Percentile(99)), ms(counting.Median()), ms(counting.Percentile(99)))
	writes, runShare := pw.writes()
	report(w, "  pod writes seen per pod (create, bind, status, finalizer): %.2f; pods seen Running before finishing: %.0f %%", writes, 100*runShare)
	return res, nil
}

// jobNodeName names the in-process server's node.
const jobNodeName = "bench-node"

// jobNodePods reads the pod capacity the node reports.
func jobNodePods(ctx context.Context, client kubernetes.Interface) (int64, error) {
	node, err := client.CoreV1().Nodes().Get(ctx, jobNodeName, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("reading node %s: %w", jobNodeName, err)
	}
	pods := node.Status.Capacity[corev1.ResourcePods]
	return pods.Value(), nil
}

// jobStartServer starts a whole server in this process: its local agent
// runs containers through shims, as `batchlet server` does.
func jobStartServer(ctx context.Context, dataDir string, maxPods int) (*server.Server, kubernetes.Interface, error) {
	startCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	srv, err := server.Start(startCtx, server.Config{
		DataDir:             dataDir,
		Listen:              "127.0.0.1:0",
		AgentListen:         "127.0.0.1:0",
		NodeName:            jobNodeName,
		MaxPods:             maxPods,
		DisableServiceProxy: true,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("starting server: %w", err)
	}
	select {
	case <-srv.Ready():
	case err := <-srv.Failed():
		srv.Close()
		return nil, nil, fmt.Errorf("server failed: %w", err)
	case <-startCtx.Done():
		srv.Close()
		return nil, nil, fmt.Errorf("server not ready: %w", startCtx.Err())
	}
	// The harness observes every pod of the Job; through the listener its
	// TLS and decoding would be charged to the server process it shares.
	// In process, it costs what another component of the server costs.
	rc := srv.ComponentConfig()
	rc.UserAgent = "batchlet-bench"
	rc.RateLimiter = flowcontrol.NewFakeAlwaysRateLimiter()
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		srv.Close()
		return nil, nil, fmt.Errorf("client: %w", err)
	}
	return srv, client, nil
}

// jobBareSpawnRate starts and reaps count processes of path on n goroutines:
// the most pods/s the machine could run if pods cost nothing else.
func jobBareSpawnRate(ctx context.Context, path string, n, count int) (float64, error) {
	return parallel(n, count, func(int) error {
		return exec.CommandContext(ctx, path).Run()
	})
}

// jobBareSpawnRateOneCPU is jobBareSpawnRate with each spawning thread,
// and so each child, bound to CPU 0.
func jobBareSpawnRateOneCPU(ctx context.Context, path string, n, count int) (float64, error) {
	var one unix.CPUSet
	one.Set(0)
	return parallel(n, count, func(int) error {
		// Locked for good: the bound thread ends with its goroutine
		// rather than go back to the runtime's pool.
		runtime.LockOSThread()
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			return fmt.Errorf("binding to CPU 0: %w", err)
		}
		return exec.CommandContext(ctx, path).Run()
	})
}

func jobCPUProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// writeAllocsProfile writes this process's allocation profile to
// path+suffix; nothing when path is empty.
func writeAllocsProfile(path, suffix string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path + suffix)
	if err != nil {
		return fmt.Errorf("creating allocation profile: %w", err)
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("writing allocation profile: %w", err)
	}
	return f.Close()
}

// jobCPUSplit is the CPU time used so far by this process (and the part
// of it spent in the kernel) and by its reaped descendants.
func jobCPUSplit() (self, selfSys, children time.Duration) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		selfSys = time.Duration(ru.Stime.Nano())
	}
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) == nil {
		children = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return self, selfSys, children
}

// jobSpec is an Indexed Job whose pods run /bin/true.
func jobSpec(name string, completions, parallelism int) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: jobNamespace},
		Spec: batchv1.JobSpec{
			Completions:    ptr.To(int32(completions)),
			Parallelism:    ptr.To(int32(parallelism)),
			CompletionMode: ptr.To(batchv1.IndexedCompletion),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"/bin/true"}}},
			}},
		},
	}
}

// jobRunIndexed creates the Job and returns the time until it is seen
// Complete.
func jobRunIndexed(ctx context.Context, client kubernetes.Interface, name string, completions, parallelism int) (time.Duration, error) {
	jobs := client.BatchV1().Jobs(jobNamespace)
	start := time.Now()
	if _, err := jobs.Create(ctx, jobSpec(name, completions, parallelism), metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	// A slow machine still finishes; a Job that makes no progress for two
	// minutes is reported as stuck.
	progress, lastSucceeded := start, int32(-1)
	for {
		job, err := jobs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return 0, err
		}
		for _, c := range job.Status.Conditions {
			if c.Status != corev1.ConditionTrue {
				continue
			}
			switch c.Type {
			case batchv1.JobComplete:
				return time.Since(start), nil
			case batchv1.JobFailed:
				return 0, fmt.Errorf("job failed: %s: %s", c.Reason, c.Message)
			}
		}
		if job.Status.Succeeded != lastSucceeded {
			progress, lastSucceeded = time.Now(), job.Status.Succeeded
		}
		if time.Since(progress) > 2*time.Minute {
			return 0, fmt.Errorf("no progress for 2m after %s: succeeded %d, active %d, failed %d",
				time.Since(start).Round(time.Second), job.Status.Succeeded, job.Status.Active, job.Status.Failed)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// jobPodTimes is when the harness saw one pod reach each stage.
type jobPodTimes struct {
	uid                                      string
	seen, bound, running, finished, released time.Time
	// versions counts the pod object's versions seen: one per write.
	versions   int
	lastRV     string
	sawRunning bool
}

// jobFirstPod is the first pod of a Job, with channels that signal its
// changes and its end.
type jobFirstPod struct {
	pod           *jobPodTimes
	changed, done chan struct{}
}

// jobPodWatch records when each pod of the namespace was seen created,
// bound, running, finished and released (tracking finalizer gone), from
// an informer.
type jobPodWatch struct {
	mu    sync.Mutex
	pods  map[string]*jobPodTimes // by UID
	first map[string]*jobFirstPod // by Job name
}

func newJobPodWatch() *jobPodWatch {
	return &jobPodWatch{pods: map[string]*jobPodTimes{}, first: map[string]*jobFirstPod{}}
}

// start runs the informer until stop is closed.
func (pw *jobPodWatch) start(ctx context.Context, client kubernetes.Interface, stop <-chan struct{}) error {
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(jobNamespace))
	inf := factory.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    pw.observe,
		UpdateFunc: func(_, obj any) { pw.observe(obj) },
	}); err != nil {
		return fmt.Errorf("pod handler: %w", err)
	}
	factory.Start(stop)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return errors.New("pod informer did not sync")
	}
	return nil
}

func (pw *jobPodWatch) firstPod(job string) *jobFirstPod {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	f := pw.first[job]
	if f == nil {
		f = &jobFirstPod{changed: make(chan struct{}, 1), done: make(chan struct{})}
		pw.first[job] = f
	}
	return f
}

func (pw *jobPodWatch) observe(obj any) {
	now := time.Now()
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Labels["job-name"] == "" {
		return
	}
	f := pw.firstPod(pod.Labels["job-name"])
	pw.mu.Lock()
	defer pw.mu.Unlock()
	p := pw.pods[string(pod.UID)]
	if p == nil {
		p = &jobPodTimes{uid: string(pod.UID), seen: now}
		pw.pods[p.uid] = p
	}
	if f.pod == nil {
		f.pod = p
	}
	if pod.ResourceVersion != p.lastRV {
		p.versions++
		p.lastRV = pod.ResourceVersion
	}
	if pod.Status.Phase == corev1.PodRunning {
		p.sawRunning = true
	}
	set := func(t *time.Time, cond bool) {
		if cond && t.IsZero() {
			*t = now
		}
	}
	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	set(&p.bound, pod.Spec.NodeName != "")
	set(&p.running, pod.Status.Phase == corev1.PodRunning || terminal)
	set(&p.finished, terminal)
	set(&p.released, terminal && len(pod.Finalizers) == 0)
	if f.pod != p {
		return
	}
	if terminal && f.pod.finished.Equal(now) {
		close(f.done)
	}
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// stages returns, over every pod seen, how long pods spent waiting to be
// bound, bound until seen running, running until finished, and finished
// until released.
func (pw *jobPodWatch) stages() (unbound, starting, running, counting Durations) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	for _, p := range pw.pods {
		if p.released.IsZero() {
			continue
		}
		unbound = append(unbound, p.bound.Sub(p.seen))
		starting = append(starting, p.running.Sub(p.bound))
		running = append(running, p.finished.Sub(p.running))
		counting = append(counting, p.released.Sub(p.finished))
	}
	return
}

// writes returns the mean number of versions seen per released pod (the
// throughput Job's, and the few of the latency Jobs) and the share of
// those pods seen Running.
func (pw *jobPodWatch) writes() (perPod, running float64) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	n := 0
	for _, p := range pw.pods {
		if p.released.IsZero() {
			continue
		}
		n++
		perPod += float64(p.versions)
		if p.sawRunning {
			running++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return perPod / float64(n), running / float64(n)
}

// jobStartLatency creates Jobs of one pod one after another, each after
// the previous one's pod finished, and records the time from the create
// call to the container start the agent recorded.
func jobStartLatency(ctx context.Context, client kubernetes.Interface, pw *jobPodWatch, runDir string, n int, res *JobResult) error {
	for i := 0; i < n; i++ {
		name := "latency-" + strconv.Itoa(i)
		f := pw.firstPod(name)
		start := time.Now()
		if _, err := client.BatchV1().Jobs(jobNamespace).Create(ctx, jobSpec(name, 1, 1), metav1.CreateOptions{}); err != nil {
			return err
		}
		started, err := jobWaitStarted(ctx, pw, f, runDir)
		if err != nil {
			return fmt.Errorf("job %s: %w", name, err)
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(60 * time.Second):
			return fmt.Errorf("job %s: pod did not finish in 60s", name)
		}
		pw.mu.Lock()
		seen, bound := f.pod.seen, f.pod.bound
		pw.mu.Unlock()
		res.Total = append(res.Total, started.Sub(start))
		res.Controller = append(res.Controller, seen.Sub(start))
		res.Scheduler = append(res.Scheduler, bound.Sub(seen))
		res.Agent = append(res.Agent, started.Sub(bound))
	}
	return nil
}

// jobWaitStarted waits for the pod to be bound and then for the shim's
// state record of its container, and returns the start time recorded
// there.
func jobWaitStarted(ctx context.Context, pw *jobPodWatch, f *jobFirstPod, runDir string) (time.Time, error) {
	deadline := time.After(60 * time.Second)
	for {
		uid := ""
		pw.mu.Lock()
		if f.pod != nil && !f.pod.bound.IsZero() {
			uid = f.pod.uid
		}
		pw.mu.Unlock()
		if uid != "" {
			if at, ok := jobContainerStartedAt(runDir, uid); ok {
				return at, nil
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-deadline:
			return time.Time{}, errors.New("container not started in 60s")
		case <-f.changed:
		case <-time.After(time.Millisecond):
		}
	}
}

// jobContainerStartedAt reads the start time the container's supervisor
// recorded for the first attempt of container "main".
func jobContainerStartedAt(runDir, uid string) (time.Time, bool) {
	data, err := os.ReadFile(filepath.Join(runDir, "pods", uid, "main", "0", "state.json"))
	if err != nil {
		return time.Time{}, false
	}
	var st struct {
		StartedAt time.Time `json:"startedAt"`
	}
	if json.Unmarshal(data, &st) != nil || st.StartedAt.IsZero() {
		return time.Time{}, false
	}
	return st.StartedAt, true
}
