package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// jobCrashManifest is an Indexed Job of 200 completions whose pods sleep a
// short, index-dependent time and print their index.
const jobCrashManifest = `apiVersion: batch/v1
kind: Job
metadata:
  name: crash
spec:
  completions: 200
  parallelism: 20
  completionMode: Indexed
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "sleep 0.$(( (JOB_COMPLETION_INDEX * 37) % 10 )); echo index=$JOB_COMPLETION_INDEX"]
`

// TestJobCrashRestartCountsEachIndexOnce kills the server with SIGKILL while
// an Indexed Job of 200 completions runs, restarts it on the same data dir
// and port, and checks that no success was lost or counted twice.
func TestJobCrashRestartCountsEachIndexOnce(t *testing.T) {
	began := time.Now()
	dataDir := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	c, err := startClusterOn(dataDir, port)
	if err != nil {
		t.Fatal(err)
	}
	// Pods outlive the server that started them; whatever is left when the
	// test ends is killed here, after the server.
	t.Cleanup(func() { jobCrashKillTree(t, dataDir) })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log tail:\n%s", c.logTail(60))
		}
		c.stop()
	})

	c.mustKubectl(t, "create", "namespace", "crash")
	if _, err := c.kubectlIn(t, jobCrashManifest, "apply", "-n", "crash", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	// Kill while pods run and some have already succeeded.
	eventually(t, 2*time.Minute, "some successes with pods still running", func() (bool, string) {
		out, err := c.kubectl(t, "get", "job", "crash", "-n", "crash", "-o", "jsonpath={.status.succeeded} {.status.active}")
		if err != nil {
			return false, err.Error()
		}
		f := fieldsOf(out)
		if len(f) != 2 {
			return false, out
		}
		succeeded, _ := strconv.Atoi(f[0])
		active, _ := strconv.Atoi(f[1])
		// A live shim means a container is running right now.
		return succeeded >= 30 && active > 0 && len(jobCrashShims(dataDir)) > 0, out
	})
	c.kill()
	t.Logf("killed the server after %s", time.Since(began).Round(time.Millisecond))
	t.Logf("%d shim processes survived the kill", len(jobCrashShims(dataDir)))

	c, err = startClusterOn(dataDir, port)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.kubectl(t, "wait", "-n", "crash", "--for=condition=complete", "--timeout=180s", "job/crash"); err != nil {
		t.Fatal(err)
	}
	t.Logf("Complete after %s", time.Since(began).Round(time.Millisecond))

	status := fieldsOf(c.mustKubectl(t, "get", "job", "crash", "-n", "crash", "-o",
		`jsonpath={.status.succeeded} {.status.failed}/{.status.completedIndexes}/{.status.conditions[?(@.type=="Complete")].status}`))
	if got := strings.Join(status, " "); got != "200 /0-199/True" && got != "200 0/0-199/True" {
		t.Errorf("status succeeded failed/completedIndexes/Complete = %q, want \"200 /0-199/True\" (failed unset or 0)", got)
	}
	if u := jsonpath(t, c, "crash", "job/crash", "{.status.uncountedTerminatedPods.succeeded}{.status.uncountedTerminatedPods.failed}"); u != "" {
		t.Errorf("uncountedTerminatedPods not empty: %s", u)
	}

	// One succeeded pod per index; none failed; none still holds the
	// tracking finalizer.
	rows := c.mustKubectl(t, "get", "pods", "-n", "crash", "-l", "job-name=crash", "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.metadata.annotations.batch\.kubernetes\.io/job-completion-index} {.status.phase} {.metadata.finalizers}{"\n"}{end}`)
	perIndex := map[int][]string{}
	for _, row := range strings.Split(strings.TrimSpace(rows), "\n") {
		f := fieldsOf(row)
		if len(f) < 3 {
			t.Fatalf("pod row %q", row)
		}
		if len(f) > 3 {
			t.Errorf("pod %s still has finalizers %v", f[0], f[3:])
		}
		idx, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatalf("pod %s index %q: %v", f[0], f[1], err)
		}
		switch f[2] {
		case "Succeeded":
			perIndex[idx] = append(perIndex[idx], f[0])
		default:
			t.Errorf("pod %s (index %d) is %s", f[0], idx, f[2])
		}
	}
	for i := 0; i < 200; i++ {
		if len(perIndex[i]) != 1 {
			t.Errorf("index %d has %d succeeded pods: %v", i, len(perIndex[i]), perIndex[i])
		}
	}
	if len(perIndex) != 200 {
		t.Errorf("succeeded pods cover %d indexes, want 200", len(perIndex))
	}

	// Each succeeded pod printed its own index.
	logs := c.mustKubectl(t, "logs", "-n", "crash", "-l", "job-name=crash", "--prefix", "--tail=-1", "--max-log-requests=50")
	printed := map[string]string{}
	line := regexp.MustCompile(`^\[pod/(\S+)/main\] index=(\d+)$`)
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		if m := line.FindStringSubmatch(l); m != nil {
			printed[m[1]] = m[2]
		}
	}
	t.Logf("logs read after %s", time.Since(began).Round(time.Millisecond))
	for i, pods := range perIndex {
		for _, p := range pods {
			if printed[p] != strconv.Itoa(i) {
				t.Errorf("pod %s (index %d) printed index %q", p, i, printed[p])
			}
		}
	}

	c.mustKubectl(t, "delete", "job", "crash", "-n", "crash", "--wait=true", "--timeout=60s")
}

// jobCrashShims returns the pids of the shim processes serving the
// cluster on dataDir (its runtime's supervisor): those whose command line,
// working directory or open files lie in it.
func jobCrashShims(dataDir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), "runtime-shim") {
			continue
		}
		if strings.Contains(string(cmdline), dataDir) || jobCrashUsesDir(pid, dataDir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// jobCrashUsesDir reports whether the process's working directory or one
// of its open files is under dir.
func jobCrashUsesDir(pid int, dir string) bool {
	proc := filepath.Join("/proc", strconv.Itoa(pid))
	if cwd, err := os.Readlink(filepath.Join(proc, "cwd")); err == nil && strings.HasPrefix(cwd, dir) {
		return true
	}
	fds, _ := os.ReadDir(filepath.Join(proc, "fd"))
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join(proc, "fd", fd.Name())); err == nil && strings.HasPrefix(target, dir) {
			return true
		}
	}
	return false
}

// jobCrashKillTree kills every process left from the cluster on dataDir:
// its shims and all their descendants.
func jobCrashKillTree(t *testing.T, dataDir string) {
	t.Helper()
	parents := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := jobCrashParent(pid); ok {
			parents[ppid] = append(parents[ppid], pid)
		}
	}
	var victims []int
	queue := jobCrashShims(dataDir)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		victims = append(victims, pid)
		queue = append(queue, parents[pid]...)
	}
	for _, pid := range victims {
		if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
			t.Logf("killed leftover process %d", pid)
		}
	}
}

// jobCrashParent reads a process's parent pid from /proc/<pid>/stat.
func jobCrashParent(pid int) (int, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name is in parentheses and may hold spaces.
	s := string(stat)
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return 0, false
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}
