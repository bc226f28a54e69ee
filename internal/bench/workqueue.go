package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/batchlet/batchlet/pkg/workqueue"
	"github.com/batchlet/batchlet/pkg/workqueue/resp"
)

// WorkQueueOptions configures the Redis work-queue benchmark.
type WorkQueueOptions struct {
	Worker      string // the rediswq-worker binary
	Items       int    // work items per run (default 10,000)
	Parallelism int    // workers: host processes, or the Job's parallelism (default 8)
	Runs        int    // runs of each mode; medians are reported (default 3)
	DataDir     string // the in-process server's data dir (default: a temporary one)
}

// WorkQueueResult holds the median items/s of each mode.
type WorkQueueResult struct {
	Direct, Batchlet float64
}

// wqQueue is the tutorial's list.
const wqQueue = "job2"

// WorkQueue measures the fine-parallel work-queue example with a trivial
// worker (rediswq-worker -work-time=0): the same Redis drained by
// Parallelism worker processes started directly on the host, and by a Job
// of Parallelism pods on an in-process server. Redis runs on the host in
// both modes, so the difference is what running the workers as a Job costs.
func WorkQueue(ctx context.Context, w io.Writer, opts WorkQueueOptions) (*WorkQueueResult, error) {
	if opts.Items <= 0 {
		opts.Items = 10000
	}
	if opts.Parallelism <= 0 {
		opts.Parallelism = 8
	}
	if opts.Runs <= 0 {
		opts.Runs = 3
	}
	if opts.Worker == "" {
		return nil, errors.New("workqueue bench: the rediswq-worker binary is required")
	}
	tmp, err := tempDir("batchlet-bench-wq-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	dataDir := opts.DataDir
	if dataDir == "" {
		dataDir = filepath.Join(tmp, "server")
	}

	addr, stopRedis, err := wqStartRedis(ctx, filepath.Join(tmp, "redis"))
	if err != nil {
		return nil, err
	}
	defer stopRedis()
	client := resp.NewClient(resp.Options{Addr: addr})
	defer client.Close()
	q := workqueue.New(client, wqQueue, workqueue.Options{})

	srv, kc, err := jobStartServer(ctx, dataDir, 0)
	if err != nil {
		return nil, err
	}
	defer srv.Close()

	workerArgs := []string{"-redis", addr, "-queue", wqQueue, "-work-time=0", "-wait=1"}
	var direct, viaJob Floats
	for run := 0; run < opts.Runs; run++ {
		if err := wqFill(ctx, q, opts.Items); err != nil {
			return nil, err
		}
		d, err := wqRunDirect(ctx, opts.Worker, workerArgs, opts.Parallelism, filepath.Join(tmp, "direct"))
		if err != nil {
			return nil, fmt.Errorf("direct run %d: %w", run, err)
		}
		if err := wqCheckDrained(ctx, q); err != nil {
			return nil, fmt.Errorf("direct run %d: %w", run, err)
		}
		direct = append(direct, float64(opts.Items)/d.Seconds())

		if err := wqFill(ctx, q, opts.Items); err != nil {
			return nil, err
		}
		name := "wq-" + strconv.Itoa(run)
		d, err = wqRunJob(ctx, kc, name, append([]string{opts.Worker}, workerArgs...), opts.Parallelism)
		if err != nil {
			return nil, fmt.Errorf("job run %d: %w", run, err)
		}
		if err := wqCheckDrained(ctx, q); err != nil {
			return nil, fmt.Errorf("job run %d: %w", run, err)
		}
		viaJob = append(viaJob, float64(opts.Items)/d.Seconds())
		report(w, "run %d: direct %.0f items/s, Job %.0f items/s", run+1, direct[run], viaJob[run])
	}
	res := &WorkQueueResult{Direct: direct.Median(), Batchlet: viaJob.Median()}
	report(w, "Redis work queue, %d items, %d workers, trivial worker (median of %d runs):", opts.Items, opts.Parallelism, opts.Runs)
	report(w, "  %d worker processes on the host: %.0f items/s", opts.Parallelism, res.Direct)
	report(w, "  Job with parallelism %d on batchlet: %.0f items/s (creation to Complete)", opts.Parallelism, res.Batchlet)
	report(w, "  batchlet / direct: %.2f", res.Batchlet/res.Direct)
	return res, nil
}

// wqStartRedis runs a throw-away redis-server on a free loopback port.
func wqStartRedis(ctx context.Context, dir string) (string, func(), error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, fmt.Errorf("redis-server is needed (scripts/install-deps.sh installs it): %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--daemonize", "no",
		"--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("starting redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() { _ = cmd.Process.Kill(); <-done }
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return addr, stop, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return "", nil, fmt.Errorf("redis-server not listening on %s: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wqFill queues items "item-0" ... in batches.
func wqFill(ctx context.Context, q *workqueue.Queue, items int) error {
	const batch = 1000
	for i := 0; i < items; i += batch {
		var b [][]byte
		for j := i; j < min(i+batch, items); j++ {
			b = append(b, []byte("item-"+strconv.Itoa(j)))
		}
		if _, err := q.Add(ctx, b...); err != nil {
			return fmt.Errorf("filling the queue: %w", err)
		}
	}
	return nil
}

// wqCheckDrained fails unless every item was completed.
func wqCheckDrained(ctx context.Context, q *workqueue.Queue) error {
	n, err := q.Len(ctx)
	if err != nil {
		return err
	}
	if n != 0 {
		return fmt.Errorf("%d items left in the queue", n)
	}
	return nil
}

// wqRunDirect runs n workers as host processes, logging to files as pods
// do, and returns the time until all have exited.
func wqRunDirect(ctx context.Context, worker string, args []string, n int, logDir string) (time.Duration, error) {
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		return 0, err
	}
	start := time.Now()
	cmds := make([]*exec.Cmd, 0, n)
	for i := 0; i < n; i++ {
		log, err := os.Create(filepath.Join(logDir, strconv.Itoa(i)+".log"))
		if err != nil {
			return 0, err
		}
		defer log.Close()
		cmd := exec.CommandContext(ctx, worker, args...)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			return 0, fmt.Errorf("starting %s: %w", worker, err)
		}
		cmds = append(cmds, cmd)
	}
	var firstErr error
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("worker: %w", err)
		}
	}
	return time.Since(start), firstErr
}

// wqRunJob runs the workers as the tutorial's Job (parallelism n, no
// completions) and returns the time from creation to the Complete condition.
func wqRunJob(ctx context.Context, kc kubernetes.Interface, name string, argv []string, n int) (time.Duration, error) {
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{
			Parallelism: ptr.To(int32(n)),
			// The workers share the host network, as in the direct mode,
			// to reach the host's Redis on the loopback: the comparison is
			// of running them as a Job, not of pod networking.
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyOnFailure,
				HostNetwork:   true,
				Containers:    []corev1.Container{{Name: "c", Image: "job-wq-2", Command: argv}},
			}},
		},
	}
	start := time.Now()
	if _, err := kc.BatchV1().Jobs(jobNamespace).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		return 0, fmt.Errorf("creating job %s: %w", name, err)
	}
	deadline := start.Add(10 * time.Minute)
	for {
		j, err := kc.BatchV1().Jobs(jobNamespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return 0, fmt.Errorf("getting job %s: %w", name, err)
		}
		for _, c := range j.Status.Conditions {
			if c.Status != corev1.ConditionTrue {
				continue
			}
			switch c.Type {
			case batchv1.JobComplete:
				return time.Since(start), nil
			case batchv1.JobFailed:
				return 0, fmt.Errorf("job %s failed: %s", name, c.Message)
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("job %s not complete after 10 minutes", name)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
