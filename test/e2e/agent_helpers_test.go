package e2e

import (
	"strings"
	"testing"
	"time"
)

// agentE2EApply creates objects from a manifest given inline.
func agentE2EApply(t *testing.T, c *cluster, ns, manifest string) {
	t.Helper()
	if _, err := c.kubectlIn(t, manifest, "apply", "-n", ns, "-f", "-"); err != nil {
		t.Fatal(err)
	}
}

// agentE2EWaitStatus waits until `kubectl get pod` prints want in the
// STATUS column of the pod, exactly as a person reads it.
func agentE2EWaitStatus(t *testing.T, c *cluster, ns, pod, want string) {
	t.Helper()
	eventually(t, 90*time.Second, "pod "+pod+" STATUS "+want, func() (bool, string) {
		out, err := c.kubectl(t, "get", "pod", pod, "-n", ns, "--no-headers")
		if err != nil {
			return false, err.Error()
		}
		f := fieldsOf(out)
		return len(f) >= 3 && f[2] == want, out
	})
}

// agentE2EWaitRunning waits until every container of the pod runs.
func agentE2EWaitRunning(t *testing.T, c *cluster, ns, pod string) {
	t.Helper()
	c.mustKubectl(t, "wait", "-n", ns, "--for=condition=Ready", "--timeout=90s", "pod/"+pod)
}

// agentE2EJobPod returns the name of the first pod of a Job.
func agentE2EJobPod(t *testing.T, c *cluster, ns, job string) string {
	t.Helper()
	var name string
	eventually(t, 60*time.Second, "a pod of job "+job, func() (bool, string) {
		out, err := c.kubectl(t, "get", "pods", "-n", ns, "-l", "job-name="+job, "-o", "jsonpath={.items[0].metadata.name}")
		name = strings.TrimSpace(out)
		return err == nil && name != "", out
	})
	return name
}

// agentE2ELines splits output into its non-empty lines.
func agentE2ELines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimRight(l, "\r "); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// agentE2ENamespace is namespace() whose pods are all gone, processes
// included, before the test ends: the server may stop right after, and
// the agent leaves running containers behind on purpose when it stops.
func agentE2ENamespace(t *testing.T, c *cluster, name string) string {
	t.Helper()
	ns := namespace(t, c, name)
	t.Cleanup(func() {
		// Jobs first, so that no controller replaces the pods.
		if _, err := c.kubectl(t, "delete", "jobs", "--all", "-n", ns, "--cascade=orphan"); err != nil {
			t.Logf("deleting the jobs of %s: %v", ns, err)
		}
		if _, err := c.kubectl(t, "delete", "pods", "--all", "-n", ns, "--grace-period=1", "--wait=true", "--timeout=90s"); err != nil {
			t.Logf("deleting the pods of %s: %v", ns, err)
		}
	})
	return ns
}
