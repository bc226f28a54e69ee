package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestPiJob walks through the seed's first Job: apply, wait, describe,
// find the pod by its job-name label, read the digits.
func TestPiJob(t *testing.T) {
	c := shared
	ns := "e2e-pi"
	c.mustKubectl(t, "create", "namespace", ns)
	out := c.mustKubectl(t, "apply", "-n", ns, "-f", seed("pi.yaml"))
	if strings.TrimSpace(out) != "job.batch/pi created" {
		t.Fatalf("apply printed %q", out)
	}
	c.mustKubectl(t, "wait", "-n", ns, "--for=condition=complete", "--timeout=120s", "job/pi")

	jobs := c.mustKubectl(t, "get", "jobs", "-n", ns)
	assertColumns(t, jobs, "NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE")
	if !regexp.MustCompile(`(?m)^pi\s+Complete\s+1/1\s+\d+s\s+\d+s\s*$`).MatchString(jobs) {
		t.Fatalf("get jobs row unexpected:\n%s", jobs)
	}

	pods := c.mustKubectl(t, "get", "pods", "-n", ns, "--selector=job-name=pi", "--output=jsonpath={.items[*].metadata.name}")
	if !regexp.MustCompile(`^pi-[a-z0-9]{5}$`).MatchString(pods) {
		t.Fatalf("pod names %q", pods)
	}
	podTable := c.mustKubectl(t, "get", "pods", "-n", ns)
	assertColumns(t, podTable, "NAME", "READY", "STATUS", "RESTARTS", "AGE")
	if !regexp.MustCompile(`(?m)^` + pods + `\s+0/1\s+Completed\s+0\s+`).MatchString(podTable) {
		t.Fatalf("get pods row unexpected:\n%s", podTable)
	}

	logs := strings.TrimSpace(c.mustKubectl(t, "logs", "-n", ns, pods))
	if !strings.HasPrefix(logs, "3.14159265358979323846") || len(logs) != 2001 {
		t.Fatalf("pi log: %d chars, starts %q", len(logs), logs[:min(len(logs), 30)])
	}

	describe := c.mustKubectl(t, "describe", "job", "pi", "-n", ns)
	for _, want := range []string{
		"Pods Statuses:    0 Active (0 Ready) / 1 Succeeded / 0 Failed",
		"SuccessfulCreate",
		"Created pod: " + pods,
		"Completed",
		"batch.kubernetes.io/controller-uid=",
	} {
		if !strings.Contains(describe, want) {
			t.Errorf("describe job pi lacks %q:\n%s", want, describe)
		}
	}
}

// TestApplySeedManifests applies every Job, CronJob and Service manifest of
// the seeds (the template after substitution) with kubectl's default
// validation.
func TestApplySeedManifests(t *testing.T) {
	c := shared
	ns := "e2e-seeds"
	c.mustKubectl(t, "create", "namespace", ns)
	tmpl, err := os.ReadFile(seed("job-tmpl.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	expanded := filepath.Join(t.TempDir(), "job-apple.yaml")
	if err := os.WriteFile(expanded, []byte(strings.ReplaceAll(string(tmpl), "$ITEM", "apple")), 0o644); err != nil {
		t.Fatal(err)
	}
	manifests := map[string]string{
		seed("cronjob-hello.yaml"):                  "cronjob.batch/hello created",
		seed("job-wq-1.yaml"):                       "job.batch/job-wq-1 created",
		seed("job-wq-2.yaml"):                       "job.batch/job-wq-2 created",
		seed("pod-to-pod.yaml"):                     "service/headless-svc created\njob.batch/example-job created",
		seed("indexed-job.yaml"):                    "job.batch/indexed-job created",
		seed("job-pod-failure-policy-failjob.yaml"): "job.batch/job-pod-failure-policy-failjob created",
		seed("myjob.yaml"):                          "job.batch/myjob created",
		seed("pi-with-timeout.yaml"):                "job.batch/pi-with-timeout created",
		expanded:                                    "job.batch/process-item-apple created",
	}
	for file, want := range manifests {
		out, err := c.kubectl(t, "apply", "-n", ns, "-f", file)
		if err != nil {
			t.Errorf("apply %s: %v", file, err)
			continue
		}
		if strings.TrimSpace(out) != want {
			t.Errorf("apply %s printed %q, want %q", file, out, want)
		}
	}
	// The second indexed-job variant replaces the first under the same name:
	// its template differs, so it must be deleted and re-created.
	c.mustKubectl(t, "delete", "job", "indexed-job", "-n", ns)
	if out := c.mustKubectl(t, "apply", "-n", ns, "-f", seed("indexed-job-downward.yaml")); strings.TrimSpace(out) != "job.batch/indexed-job created" {
		t.Errorf("apply indexed-job-downward printed %q", out)
	}
	cj := c.mustKubectl(t, "get", "cronjob", "hello", "-n", ns)
	assertColumns(t, cj, "NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE")
	if !regexp.MustCompile(`(?m)^hello\s+\* \* \* \* \*\s+<none>\s+False\s+0\s+`).MatchString(cj) {
		t.Errorf("get cronjob row unexpected:\n%s", cj)
	}
	svc := c.mustKubectl(t, "get", "service", "headless-svc", "-n", ns)
	if !regexp.MustCompile(`(?m)^headless-svc\s+ClusterIP\s+None\s+<none>\s+<none>\s+`).MatchString(svc) {
		t.Errorf("get service row unexpected:\n%s", svc)
	}
	for _, kind := range []string{"cronjobs", "jobs", "services", "pods"} {
		c.mustKubectl(t, "delete", kind, "--all", "-n", ns, "--wait=false")
	}
}

// TestKubectlVerbs covers the kubectl commands the tutorials use beyond
// the pi walk-through.
func TestKubectlVerbs(t *testing.T) {
	c := shared
	ns := "e2e-verbs"
	c.mustKubectl(t, "create", "namespace", ns)

	// `create job` sends a protobuf body.
	if out := c.mustKubectl(t, "create", "job", "hi", "-n", ns, "--image=busybox", "--", "echo", "hi"); strings.TrimSpace(out) != "job.batch/hi created" {
		t.Fatalf("create job printed %q", out)
	}
	c.mustKubectl(t, "wait", "-n", ns, "--for=condition=complete", "--timeout=60s", "job/hi")
	if out := c.mustKubectl(t, "logs", "-n", ns, "job/hi"); strings.TrimSpace(out) != "hi" {
		t.Fatalf("logs job/hi = %q", out)
	}

	explain := c.mustKubectl(t, "explain", "job.spec.completions")
	if !strings.Contains(explain, "completions") || !strings.Contains(explain, "integer") {
		t.Fatalf("explain output:\n%s", explain)
	}

	yaml := c.mustKubectl(t, "get", "job", "hi", "-n", ns, "-o", "yaml")
	for _, want := range []string{"apiVersion: batch/v1", "kind: Job", "batch.kubernetes.io/job-name: hi", "type: Complete", "succeeded: 1"} {
		if !strings.Contains(yaml, want) {
			t.Errorf("-o yaml lacks %q:\n%s", want, yaml)
		}
	}

	// get --watch streams a Job created after the watch started.
	lines := c.kubectlStream(t, 60*time.Second, "get", "jobs", "-n", ns, "--watch")
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "NAME") {
		t.Fatalf("watch header: %q", lines.Text())
	}
	c.mustKubectl(t, "create", "job", "watched", "-n", ns, "--image=busybox", "--", "true")
	sawComplete := false
	for lines.Scan() {
		if regexp.MustCompile(`^watched\s+Complete\s+1/1`).MatchString(lines.Text()) {
			sawComplete = true
			break
		}
	}
	if !sawComplete {
		t.Fatalf("watch never showed job watched Complete")
	}

	c.mustKubectl(t, "label", "job", "hi", "watched", "-n", ns, "jobgroup=jobexample")
	byLabel := c.mustKubectl(t, "get", "jobs", "-n", ns, "-l", "jobgroup=jobexample", "-o", "jsonpath={.items..metadata.name}")
	if byLabel != "hi watched" {
		t.Fatalf("label selector found %q", byLabel)
	}
	out := c.mustKubectl(t, "delete", "job", "-n", ns, "-l", "jobgroup=jobexample")
	if !strings.Contains(out, `job.batch "hi" deleted`) || !strings.Contains(out, `job.batch "watched" deleted`) {
		t.Fatalf("delete -l printed %q", out)
	}
	if left := c.mustKubectl(t, "get", "jobs", "-n", ns, "-o", "name"); strings.TrimSpace(left) != "" {
		t.Fatalf("jobs left after delete: %q", left)
	}
}

// TestBatchletKubectl runs the embedded kubectl with the data dir's
// kubeconfig.
func TestBatchletKubectl(t *testing.T) {
	c := shared
	cmd := exec.Command(batchletBin, "kubectl", "get", "nodes")
	cmd.Env = append(os.Environ(), "BATCHLET_DATA_DIR="+c.dataDir, "KUBECONFIG=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("batchlet kubectl: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^e2e-node\s+Ready\s+`).Match(out) {
		t.Fatalf("get nodes:\n%s", out)
	}
}

// TestBatchletKubectlVersion: the embedded kubectl reports the Kubernetes
// release it comes from, so `kubectl version` parses both versions and
// finds them within the supported skew.
func TestBatchletKubectlVersion(t *testing.T) {
	c := shared
	cmd := exec.Command(batchletBin, "kubectl", "version")
	cmd.Env = append(os.Environ(), "BATCHLET_DATA_DIR="+c.dataDir, "KUBECONFIG=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("batchlet kubectl version: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^Client Version: v1\.\d+\.\d+`).Match(out) || !regexp.MustCompile(`(?m)^Server Version: v1\.\d+\.\d+`).Match(out) {
		t.Fatalf("versions:\n%s", out)
	}
	if strings.Contains(string(out), "WARNING") {
		t.Fatalf("version skew warning:\n%s", out)
	}
}

func assertColumns(t *testing.T, table string, cols ...string) {
	t.Helper()
	header := strings.SplitN(table, "\n", 2)[0]
	fields := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(header), -1)
	if strings.Join(fields, "|") != strings.Join(cols, "|") {
		t.Fatalf("columns %q, want %q\n%s", fields, cols, table)
	}
}
