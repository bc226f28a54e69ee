package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/batchlet/batchlet/internal/runtime"
	"github.com/batchlet/batchlet/internal/runtime/process"
	"github.com/batchlet/batchlet/internal/runtime/sandbox"
	"github.com/batchlet/batchlet/internal/runtime/sandbox/cgroups"
)

// PodStartMode is one level of isolation the pod start benchmark measures.
type PodStartMode struct {
	Name string
	// Namespaces runs the container in mount, UTS, PID and IPC namespaces
	// with the pod's /etc files bound in, as the agent does.
	Namespaces bool
	// Volume adds an emptyDir-like mount at a target missing on the host,
	// which makes the sandbox rebuild its root privately.
	Volume bool
	// Cgroups puts the container in a group with memory, CPU and pids limits.
	Cgroups bool
}

// PodStartModes are the modes reported in BENCHMARKS.md.
var PodStartModes = []PodStartMode{
	{Name: "plain"},
	{Name: "namespaces", Namespaces: true},
	{Name: "namespaces+volume", Namespaces: true, Volume: true},
	{Name: "cgroups", Cgroups: true},
	{Name: "namespaces+cgroups", Namespaces: true, Cgroups: true},
}

// PodStartOptions configure the pod start benchmark.
type PodStartOptions struct {
	// ShimCommand is the argv prefix that runs the process runtime's shim
	// (see process.Options); empty uses the runtime's default.
	ShimCommand []string
	// Count is the number of containers started per mode.
	Count int
	// Modes to measure; empty means PodStartModes.
	Modes []PodStartMode
	// Dir holds the runtime's state; empty uses a temporary directory.
	Dir string
	// NoForkServer is process.Options.NoForkServer: an init step process
	// per sandboxed container instead of forks of the fork server.
	NoForkServer bool
	// Hold, when positive, also measures the memory of the runtime's
	// supervisor while that many containers run at once.
	Hold int
}

// PodStartResult is the start latency sample of one mode.
type PodStartResult struct {
	Mode    string
	Skipped string
	// Total runs from the container's first setup step (sandbox
	// directory, /etc files, cgroup) until the runtime reports it running.
	Total Durations
	// Start is the part spent in Runtime.Start.
	Start Durations
	// CPU is the CPU time (user and system of this process, the
	// runtime's supervisor and every reaped descendant of either) per
	// container, starting and stopping it included: a load-independent
	// view of the cost.
	CPU time.Duration
}

// PodStart starts opts.Count containers per mode one after another
// through the process runtime (no apiserver, no agent) and reports how
// long each took from its first setup step until it ran. Every container
// is killed and reaped before the next one starts.
func PodStart(ctx context.Context, w io.Writer, opts PodStartOptions) ([]PodStartResult, error) {
	if opts.Count <= 0 {
		opts.Count = 100
	}
	modes := opts.Modes
	if len(modes) == 0 {
		modes = PodStartModes
	}
	dir := opts.Dir
	if dir == "" {
		tmp, err := tempDir("batchlet-bench-podstart-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	rt, err := newPodStartRuntime(dir, opts)
	if err != nil {
		return nil, err
	}
	defer rt.Close()
	// The supervisor runs (and reaps) the containers: its CPU time is
	// theirs. Its own start is paid once, before the first mode.
	supervisor, err := rt.SupervisorPID()
	if err != nil {
		return nil, fmt.Errorf("starting the runtime's supervisor: %w", err)
	}
	mgr := cgroups.Detect(cgroups.Options{Name: "batchlet-bench-podstart"})
	defer func() { _ = mgr.RemoveParent() }()
	report(w, "pod start latency, %d containers per mode (setup + Runtime.Start until running)", opts.Count)
	var results []PodStartResult
	for _, m := range modes {
		res := PodStartResult{Mode: m.Name}
		if reason := podStartSkip(m, mgr); reason != "" {
			res.Skipped = reason
			report(w, "%-20s skipped: %s", m.Name, reason)
			results = append(results, res)
			continue
		}
		b := &podStartRun{rt: rt, mgr: mgr, mode: m, dir: filepath.Join(dir, m.Name)}
		cpu0, err := podStartCPU(supervisor)
		if err != nil {
			return results, err
		}
		for i := 0; i < opts.Count; i++ {
			if err := ctx.Err(); err != nil {
				return results, err
			}
			total, start, err := b.once(ctx, i)
			if err != nil {
				return results, fmt.Errorf("mode %s, container %d: %w", m.Name, i, err)
			}
			res.Total = append(res.Total, total)
			res.Start = append(res.Start, start)
		}
		if pid, err := rt.SupervisorPID(); err != nil || pid != supervisor {
			return results, fmt.Errorf("mode %s: the runtime's supervisor %d was replaced (%d, %v)", m.Name, supervisor, pid, err)
		}
		cpu1, err := podStartCPU(supervisor)
		if err != nil {
			return results, err
		}
		res.CPU = (cpu1 - cpu0) / time.Duration(opts.Count)
		report(w, "%-20s p50 %s  p99 %s  (Runtime.Start p50 %s  p99 %s)  CPU/container %s", m.Name,
			ms(res.Total.Median()), ms(res.Total.Percentile(99)), ms(res.Start.Median()), ms(res.Start.Percentile(99)), ms(res.CPU))
		results = append(results, res)
	}
	if opts.Hold > 0 {
		if _, err := podHold(ctx, w, rt, supervisor, filepath.Join(dir, "hold"), opts.Hold); err != nil {
			return results, err
		}
	}
	return results, nil
}

// newPodStartRuntime is a process runtime rooted in the benchmark's
// directory, so that it gets a supervisor of its own, which exits soon
// after the benchmark.
func newPodStartRuntime(dir string, opts PodStartOptions) (*process.Runtime, error) {
	return process.New(process.Options{ShimCommand: opts.ShimCommand, NoForkServer: opts.NoForkServer,
		Root: filepath.Join(dir, "runtime"), Idle: 5 * time.Second})
}

func podStartSkip(m PodStartMode, mgr *cgroups.Manager) string {
	if m.Namespaces && os.Geteuid() != 0 {
		return "namespaces need root"
	}
	if m.Cgroups && len(mgr.Capabilities().Enforced()) == 0 {
		return "no cgroup controllers can be enforced on this host"
	}
	return ""
}

// podStartRun starts the containers of one mode.
type podStartRun struct {
	rt   runtime.Runtime
	mgr  *cgroups.Manager
	mode PodStartMode
	dir  string
}

// once starts, kills and reaps one container; it returns the time from
// the first setup step to running, and the part of it in Runtime.Start.
func (b *podStartRun) once(ctx context.Context, i int) (time.Duration, time.Duration, error) {
	name := "pod" + strconv.Itoa(i)
	podDir := filepath.Join(b.dir, name)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "bench", UID: types.UID("bench-" + name)}}
	sbCfg := runtime.SandboxConfig{UID: string(pod.UID), Namespace: pod.Namespace, Name: pod.Name,
		Hostname: name, Dir: filepath.Join(podDir, "sandbox")}
	cfg := runtime.ContainerConfig{ID: name, Argv: []string{"/bin/sleep", "3600"},
		Env:      []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOSTNAME=" + name},
		StateDir: filepath.Join(podDir, "c", "0"), LogPath: filepath.Join(podDir, "logs", "c", "0.log")}

	begin := time.Now()
	if err := b.rt.PrepareSandbox(ctx, sbCfg); err != nil {
		return 0, 0, err
	}
	var group *cgroups.Group
	if b.mode.Namespaces || b.mode.Cgroups {
		sp, g, err := b.sandbox(pod, sbCfg.Dir)
		if err != nil {
			return 0, 0, err
		}
		cfg.Sandbox, group = sp, g
	}
	startBegin := time.Now()
	ctr, err := b.rt.Start(ctx, cfg)
	running := time.Now()
	if err != nil {
		return 0, 0, err
	}
	stopErr := stopContainer(ctr)
	if group != nil {
		if err := group.Destroy(); err != nil && stopErr == nil {
			stopErr = fmt.Errorf("removing cgroup: %w", err)
		}
	}
	if err := b.rt.RemoveSandbox(ctx, sbCfg); err != nil && stopErr == nil {
		stopErr = err
	}
	if err := os.RemoveAll(podDir); err != nil && stopErr == nil {
		stopErr = fmt.Errorf("removing pod directory: %w", err)
	}
	return running.Sub(begin), running.Sub(startBegin), stopErr
}

// sandbox builds the container's isolation the way the agent does.
func (b *podStartRun) sandbox(pod *corev1.Pod, sandboxDir string) (*sandbox.Spec, *cgroups.Group, error) {
	sp := &sandbox.Spec{}
	if b.mode.Namespaces {
		etc, err := sandbox.WriteEtcFiles(pod, sandbox.EtcFiles{Dir: filepath.Join(sandboxDir, "etc"),
			PodIPs: []string{"127.0.0.1"}, ClusterDomain: sandbox.DefaultClusterDomain})
		if err != nil {
			return nil, nil, err
		}
		scratch := filepath.Join(sandboxDir, "scratch", "c-0")
		if err := os.MkdirAll(scratch, 0o700); err != nil {
			return nil, nil, fmt.Errorf("creating scratch directory: %w", err)
		}
		sp.Namespaces, sp.Hostname, sp.Mounts, sp.ScratchDir = true, sandbox.UTSHostname(pod, ""), etc, scratch
		if b.mode.Volume {
			vol := filepath.Join(sandboxDir, "volumes", "input")
			if err := os.MkdirAll(vol, 0o755); err != nil {
				return nil, nil, fmt.Errorf("creating volume: %w", err)
			}
			sp.Mounts = append(sp.Mounts, sandbox.Mount{Source: vol, Target: "/batchlet-bench-input"})
		}
	}
	if !b.mode.Cgroups {
		return sp, nil, nil
	}
	g, err := b.mgr.Create("pod"+string(pod.UID)+"/c-0",
		cgroups.Resources{MemoryLimit: 64 << 20, CPULimitMilli: 500, CPURequestMilli: 500, PidsLimit: 64})
	if err != nil {
		return nil, nil, fmt.Errorf("creating cgroup: %w", err)
	}
	sp.CgroupProcs = g.ProcsFiles()
	return sp, g, nil
}

// cpuTime is the CPU time used so far by this process and its reaped
// descendants.
func cpuTime() time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return total
}

// stopContainer kills a container and waits until the runtime has
// recorded its end.
func stopContainer(ctr runtime.Container) error {
	if err := ctr.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case <-ctr.Done():
	case <-time.After(30 * time.Second):
		return errors.New("container did not end within 30s of SIGKILL")
	}
	if e := ctr.Exit(); e.Signal != int32(syscall.SIGKILL) {
		return fmt.Errorf("container ended with %+v, want SIGKILL", e)
	}
	return nil
}
