package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestJobHarnessSmall (its pods' shims re-execute this test binary, routed
// by TestMain) runs the Job harness at a small size: every phase
// must finish and produce a sample per Job.
func TestJobHarnessSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and runs pods")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	// Fewer slots than the parallelism: the Job's pods queue for the node.
	res, err := Job(ctx, &out, JobOptions{Completions: 20, Parallelism: 10, MaxPods: 4, LatencyJobs: 3, DataDir: t.TempDir(), PodStages: true, BareOneCPU: true})
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.NodePods != 4 {
		t.Errorf("node reports room for %d pods, want the 4 asked for", res.NodePods)
	}
	if res.BareRate <= 0 || res.BareOneCPURate <= 0 || res.PodsPerSec <= 0 || res.ToComplete <= 0 {
		t.Errorf("rates: %+v", res)
	}
	for name, d := range map[string]Durations{"total": res.Total, "controller": res.Controller, "scheduler": res.Scheduler, "agent": res.Agent} {
		if len(d) != 3 {
			t.Errorf("%s latency: %d samples, want 3", name, len(d))
		}
		for _, v := range d {
			if v < 0 {
				t.Errorf("%s latency %s is negative", name, v)
			}
		}
	}
	if res.MachineCPU < res.ServerCPU {
		t.Errorf("machine busy %s per pod, less than the server's own %s", res.MachineCPU, res.ServerCPU)
	}
	if res.ServerCPU <= 0 || res.ChildCPU <= 0 {
		t.Errorf("CPU per pod: server %s, shims and containers %s; both must be positive", res.ServerCPU, res.ChildCPU)
	}
	for _, line := range []string{"pods/s", "every process on CPU 0", "the whole machine", "per pod, p50/p99", "pod writes seen per pod"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("no %q line:\n%s", line, out.String())
		}
	}
}
