package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// agentE2EGateJob has 20 pods that wait for a gate file on a hostPath, mark
// that they passed it and exit with index % 3. Each index runs once.
const agentE2EGateJob = `apiVersion: batch/v1
kind: Job
metadata:
  name: crashy
spec:
  completionMode: Indexed
  completions: 20
  parallelism: 20
  backoffLimitPerIndex: 0
  template:
    spec:
      restartPolicy: Never
      volumes:
      - name: gate
        hostPath: {path: %q, type: Directory}
      containers:
      - name: worker
        image: busybox
        volumeMounts: [{name: gate, mountPath: /gate}]
        command: ["sh", "-c", "while [ ! -f /gate/open ]; do sleep 0.1; done; touch /gate/passed-$JOB_COMPLETION_INDEX; exit $((JOB_COMPLETION_INDEX %% 3))"]
`

// TestAgentServerKill9: the whole server dies by SIGKILL while 20 pods
// run; the pods finish while it is down; after a restart on the same data
// dir every pod reports its true exit code and phase, and the Job counts
// each exactly once.
func TestAgentServerKill9(t *testing.T) {
	needRoot(t)
	dataDir := t.TempDir()
	gate := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	c, err := startClusterOn(dataDir, port)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("server log tail:\n%s", c.logTail(60))
		}
		c.stop()
	}()
	c.mustKubectl(t, "create", "namespace", "crash")
	agentE2EApply(t, c, "crash", fmt.Sprintf(agentE2EGateJob, gate))
	eventually(t, 120*time.Second, "20 running pods", func() (bool, string) {
		out, err := c.kubectl(t, "get", "pods", "-n", "crash", "--no-headers")
		return err == nil && strings.Count(out, " Running ") == 20, out
	})

	c.kill()
	if err := os.WriteFile(filepath.Join(gate, "open"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Every container passes the gate and exits while nothing watches it.
	eventually(t, 60*time.Second, "all 20 containers past the gate", func() (bool, string) {
		m, _ := filepath.Glob(filepath.Join(gate, "passed-*"))
		return len(m) == 20, fmt.Sprintf("%d passed", len(m))
	})

	c2, err := startClusterOn(dataDir, port)
	if err != nil {
		t.Fatal(err)
	}
	c = c2
	c.mustKubectl(t, "wait", "-n", "crash", "--for=condition=failed", "--timeout=120s", "job/crashy")

	out := c.mustKubectl(t, "get", "pods", "-n", "crash", "-o",
		`jsonpath={range .items[*]}{.metadata.annotations.batch\.kubernetes\.io/job-completion-index} {.status.phase} {.status.containerStatuses[0].state.terminated.exitCode} {.status.containerStatuses[0].state.terminated.reason}{"\n"}{end}`)
	lines := agentE2ELines(out)
	if len(lines) != 20 {
		t.Fatalf("want 20 pods, got %d:\n%s", len(lines), out)
	}
	seen := map[int]bool{}
	for _, l := range lines {
		var idx, code int
		var phase, reason string
		if _, err := fmt.Sscanf(l, "%d %s %d %s", &idx, &phase, &code, &reason); err != nil {
			t.Fatalf("pod line %q: %v", l, err)
		}
		wantPhase, wantReason := "Failed", "Error"
		if idx%3 == 0 {
			wantPhase, wantReason = "Succeeded", "Completed"
		}
		if phase != wantPhase || code != idx%3 || reason != wantReason {
			t.Errorf("index %d: %s exit %d %s; want %s exit %d %s", idx, phase, code, reason, wantPhase, idx%3, wantReason)
		}
		seen[idx] = true
	}
	if len(seen) != 20 {
		t.Errorf("indexes seen: %v", seen)
	}
	counts := jsonpath(t, c, "crash", "job/crashy", "{.status.succeeded} {.status.failed} {.status.completedIndexes} {.status.failedIndexes}")
	if want := "7 13 0,3,6,9,12,15,18 1,2,4,5,7,8,10,11,13,14,16,17,19"; counts != want {
		t.Errorf("job status %q, want %q", counts, want)
	}
}
