package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTutorialCronJobHello runs examples/cronjob-hello as the CronJob
// tutorial does: the first run comes at the next minute boundary.
func TestTutorialCronJobHello(t *testing.T) {
	t.Parallel()
	c := shared
	ns := namespace(t, c, "tut-cronjob")
	if out := c.mustKubectl(t, "create", "-n", ns, "-f", example("cronjob-hello", "cronjob.yaml")); strings.TrimSpace(out) != "cronjob.batch/hello created" {
		t.Fatalf("create printed %q", out)
	}
	cj := c.mustKubectl(t, "get", "cronjob", "hello", "-n", ns)
	assertColumns(t, cj, "NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE")
	if !regexp.MustCompile(`(?m)^hello\s+\* \* \* \* \*\s+<none>\s+False\s+0\s+<none>\s+\d+s\s*$`).MatchString(cj) {
		t.Fatalf("get cronjob before the first run:\n%s", cj)
	}

	// get jobs --watch shows hello-<n> reach 1/1 after the minute boundary.
	lines := c.kubectlStream(t, 100*time.Second, "get", "jobs", "-n", ns, "--watch")
	done := regexp.MustCompile(`^(hello-\d+)\s+Complete\s+1/1\s+`)
	var job string
	var seen []string
	for job == "" && lines.Scan() {
		seen = append(seen, lines.Text())
		if m := done.FindStringSubmatch(lines.Text()); m != nil {
			job = m[1]
		}
	}
	if job == "" {
		t.Fatalf("watch never showed a hello job at 1/1:\n%s", strings.Join(seen, "\n"))
	}
	lines.stop()

	cj = c.mustKubectl(t, "get", "cronjob", "hello", "-n", ns)
	if !regexp.MustCompile(`(?m)^hello\s+\* \* \* \* \*\s+<none>\s+False\s+[01]\s+\d+s\s+\d+s\s*$`).MatchString(cj) {
		t.Fatalf("get cronjob after the first run shows no LAST SCHEDULE:\n%s", cj)
	}

	pod := c.mustKubectl(t, "get", "pods", "-n", ns, "--selector=job-name="+job, "--output=jsonpath={.items[*].metadata.name}")
	if !regexp.MustCompile(`^` + job + `-[a-z0-9]{5}$`).MatchString(pod) {
		t.Fatalf("pods of %s: %q", job, pod)
	}
	logs := c.mustKubectl(t, "logs", "-n", ns, pod)
	lines2 := strings.Split(strings.TrimSpace(logs), "\n")
	if len(lines2) != 2 || !regexp.MustCompile(`\d\d:\d\d:\d\d`).MatchString(lines2[0]) || lines2[1] != "Hello from the Kubernetes cluster" {
		t.Fatalf("logs of %s:\n%s", pod, logs)
	}

	if out := c.mustKubectl(t, "create", "job", "manual", "--from=cronjob/hello", "-n", ns); strings.TrimSpace(out) != "job.batch/manual created" {
		t.Fatalf("create job --from printed %q", out)
	}
	c.mustKubectl(t, "wait", "-n", ns, "--for=condition=complete", "--timeout=60s", "job/manual")
	if out := c.mustKubectl(t, "logs", "-n", ns, "job/manual"); !strings.Contains(out, "Hello from the Kubernetes cluster") {
		t.Fatalf("logs job/manual:\n%s", out)
	}

	if out := c.mustKubectl(t, "delete", "cronjob", "hello", "-n", ns); strings.TrimSpace(out) != `cronjob.batch "hello" deleted` {
		t.Fatalf("delete printed %q", out)
	}
	eventually(t, 30*time.Second, "the cronjob's jobs and pods to be deleted", func() (bool, string) {
		jobs := c.mustKubectl(t, "get", "jobs", "-n", ns, "-o", "name")
		pods := c.mustKubectl(t, "get", "pods", "-n", ns, "-l", "job-name="+job, "-o", "name")
		return strings.TrimSpace(pods) == "" && !strings.Contains(jobs, "job.batch/hello-"), jobs + pods
	})
}
