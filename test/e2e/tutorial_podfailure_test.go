package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTutorialPodFailurePolicyFailJob: exit code 42 fails the whole Job at
// once, without using up backoffLimit.
func TestTutorialPodFailurePolicyFailJob(t *testing.T) {
	t.Parallel()
	c := shared
	ns := namespace(t, c, "tut-failjob")
	job := "job-pod-failure-policy-failjob"
	c.mustKubectl(t, "create", "-n", ns, "-f", example("pod-failure-policy", job+".yaml"))
	c.mustKubectl(t, "wait", "-n", ns, "--for=condition=failed", "--timeout=120s", "job/"+job)
	reason := jsonpath(t, c, ns, "job/"+job, `{.status.conditions[?(@.type=="Failed")].reason}`)
	msg := jsonpath(t, c, ns, "job/"+job, `{.status.conditions[?(@.type=="Failed")].message}`)
	if reason != "PodFailurePolicy" {
		t.Errorf("Failed reason %q", reason)
	}
	want := regexp.MustCompile(`^Container main for pod ` + ns + `/` + job + `-[a-z0-9]{5} failed with exit code 42 matching FailJob rule at index 0$`)
	if !want.MatchString(msg) {
		t.Errorf("Failed message %q", msg)
	}
	c.mustKubectl(t, "delete", "jobs/"+job, "-n", ns)
	eventually(t, 30*time.Second, "the cluster to clean up the pods", func() (bool, string) {
		out := c.mustKubectl(t, "get", "pods", "-n", ns, "-o", "name")
		return strings.TrimSpace(out) == "", out
	})
}

// TestTutorialPodFailurePolicyIgnore drains the node under a running Job
// whose policy ignores disruptions; after uncordon the Job still completes
// although backoffLimit is 0. Drain changes the node, so it runs on a
// private server.
func TestTutorialPodFailurePolicyIgnore(t *testing.T) {
	t.Parallel()
	job := "job-pod-failure-policy-ignore"
	c, err := startCluster(filepath.Join(t.TempDir(), "drain"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			pods, _ := c.kubectl(t, "get", "pods", "-o", "wide")
			job, _ := c.kubectl(t, "get", "job", job, "-o", "yaml")
			t.Logf("pods:\n%s\njob:\n%s", pods, job)
		}
		c.stop()
	}()
	c.mustKubectl(t, "create", "-f", example("pod-failure-policy", job+".yaml"))
	eventually(t, 30*time.Second, "two running pods", func() (bool, string) {
		out := c.mustKubectl(t, "get", "pods", "-l", "job-name="+job, "--field-selector=status.phase=Running", "-o", "name")
		return len(fieldsOf(out)) == 2, out
	})
	node := strings.TrimSpace(c.mustKubectl(t, "get", "pods", "-l", "job-name="+job, "-o", "jsonpath={.items[0].spec.nodeName}"))
	if node == "" {
		t.Fatal("pod has no nodeName")
	}
	c.mustKubectl(t, "drain", "nodes/"+node, "--ignore-daemonsets", "--grace-period=0", "--timeout=60s")
	if f := strings.TrimSpace(c.mustKubectl(t, "get", "jobs", "-l", "job-name="+job, "-o", "jsonpath={.items[0].status.failed}")); f != "" && f != "0" {
		t.Errorf("status.failed = %s after drain; disruptions must not count", f)
	}
	// Pods that finished before the drain count as completions; the Job
	// must still be running, not failed.
	if out := c.mustKubectl(t, "get", "jobs"); !regexp.MustCompile(`(?m)^` + job + `\s+Running\s+[0-3]/4\s+`).MatchString(out) {
		t.Errorf("get jobs after drain:\n%s", out)
	}
	c.mustKubectl(t, "uncordon", "nodes/"+node)
	c.mustKubectl(t, "wait", "--for=condition=complete", "--timeout=180s", "job/"+job)
	if out := c.mustKubectl(t, "get", "jobs"); !regexp.MustCompile(`(?m)^` + job + `\s+Complete\s+4/4\s+`).MatchString(out) {
		t.Errorf("get jobs after uncordon:\n%s", out)
	}
}
