package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// wqBrokerURL is the tutorial's broker address: the Service by DNS name.
const wqBrokerURL = "BROKER_URL=amqp://guest:guest@rabbitmq-service:5672"

// wqProcessing matches the worker's output line for one message.
var wqProcessing = regexp.MustCompile(`(?m)^Processing (\S+)$`)

// TestTutorialRabbitMQWorkQueue runs examples/rabbitmq-workqueue as the
// tutorial does, then its caveats. The broker starts once (it takes tens of
// seconds) and serves every subtest, each with a queue of its own.
func TestTutorialRabbitMQWorkQueue(t *testing.T) {
	wqNeedRabbitMQ(t)
	t.Parallel()
	c := shared
	ns := namespace(t, c, "tut-rabbitmq")
	// The broker is stopped before the test ends rather than left to the
	// namespace's deletion, so that it never outlives the test binary.
	t.Cleanup(func() {
		if _, err := c.kubectl(t, "delete", "pod", "rabbitmq", "-n", ns, "--timeout=60s"); err != nil {
			t.Errorf("stopping the broker: %v", err)
			return
		}
		// The broker's files lived in a directory of its own, gone with it.
		if left, _ := filepath.Glob(filepath.Join(c.dataDir, "agent", "profiles", "rabbitmq", "*")); len(left) > 0 {
			t.Errorf("the broker left %v behind", left)
		}
	})
	c.mustKubectl(t, "create", "-n", ns, "-f", example("rabbitmq-workqueue", "rabbitmq-service.yaml"))
	c.mustKubectl(t, "create", "-n", ns, "-f", example("rabbitmq-workqueue", "rabbitmq-pod.yaml"))
	c.mustKubectl(t, "wait", "-n", ns, "--for=condition=Ready", "--timeout=60s", "pod/rabbitmq")

	// Fill job1 as the tutorial does, from a pod with amqp-tools, once the
	// broker accepts connections.
	wqRunPod(t, c, ns, "fill", "ubuntu:18.04", "170s",
		`i=0; until amqp-declare-queue --url=$BROKER_URL -q job1 -d >/dev/null 2>&1; do
			i=$((i+1)); [ $i -lt 240 ] || { echo broker not reachable; exit 1; }; sleep 1; done
		for f in `+strings.Join(wqFruits[:8], " ")+`; do amqp-publish --url=$BROKER_URL -r job1 -p -b $f || exit 1; done`,
		wqBrokerURL)

	t.Run("walkthrough", func(t *testing.T) {
		t.Parallel()
		wqRabbitJob(t, c, ns, "job-wq-1", "job1", 8, 2)
		if out, err := c.kubectl(t, "wait", "-n", ns, "--for=condition=complete", "--timeout=170s", "job/job-wq-1"); err != nil {
			t.Fatalf("%v %s\n%s", err, out, wqJobDebug(t, c, ns, "job-wq-1"))
		}
		describe := c.mustKubectl(t, "describe", "jobs/job-wq-1", "-n", ns)
		if !regexp.MustCompile(`Pods Statuses:\s+0 Active \(0 Ready\) / 8 Succeeded / 0 Failed`).MatchString(describe) {
			t.Errorf("describe:\n%s", describe)
		}
		logs := c.mustKubectl(t, "logs", "-n", ns, "-l", "job-name=job-wq-1", "--tail=-1")
		if got, want := wqProcessed(logs, wqProcessing), wqSorted(wqFruits[:8]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("messages processed %v, want each of %v once\n%s", got, want, logs)
		}
	})

	// Completions below the queue length: the Job completes and the
	// remaining messages are never processed.
	t.Run("fewer completions than messages", func(t *testing.T) {
		t.Parallel()
		msgs := []string{"apple", "banana", "cherry"}
		wqPublish(t, c, ns, "fill-fewer", "fewer", msgs)
		wqRabbitJob(t, c, ns, "job-wq-fewer", "fewer", 2, 2)
		if out, err := c.kubectl(t, "wait", "-n", ns, "--for=condition=complete", "--timeout=170s", "job/job-wq-fewer"); err != nil {
			t.Fatalf("%v %s\n%s", err, out, wqJobDebug(t, c, ns, "job-wq-fewer"))
		}
		logs := c.mustKubectl(t, "logs", "-n", ns, "-l", "job-name=job-wq-fewer", "--tail=-1")
		done := wqProcessed(logs, wqProcessing)
		left := strings.Fields(wqRunPod(t, c, ns, "drain-fewer", "ubuntu:18.04", "120s",
			`amqp-consume --url=$BROKER_URL -q fewer -c 1 cat && echo`, wqBrokerURL))
		if got := wqSorted(append(append([]string{}, done...), left...)); len(done) != 2 || len(left) != 1 ||
			strings.Join(got, " ") != strings.Join(wqSorted(msgs), " ") {
			t.Errorf("processed %v and left %v in the queue, want two of %v processed and the third left", done, left, msgs)
		}
	})

	// Completions above the queue length: once the queue is empty the Job
	// is not complete; its extra pod waits for a message, and completes the
	// Job when one arrives.
	t.Run("more completions than messages", func(t *testing.T) {
		t.Parallel()
		wqPublish(t, c, ns, "fill-more", "more", []string{"apple", "banana"})
		wqRabbitJob(t, c, ns, "job-wq-more", "more", 3, 3)
		if out, err := c.kubectl(t, "wait", "-n", ns, "--for=jsonpath={.status.succeeded}=2", "--timeout=170s", "job/job-wq-more"); err != nil {
			t.Fatalf("%v %s\n%s", err, out, wqJobDebug(t, c, ns, "job-wq-more"))
		}
		if got := jsonpath(t, c, ns, "job/job-wq-more", `{.status.active} {.status.conditions[?(@.type=="Complete")].status}`); got != "1" {
			t.Fatalf("after the queue ran dry: active and Complete = %q, want one active pod and no Complete condition", got)
		}
		wqPublish(t, c, ns, "fill-more-2", "more", []string{"cherry"})
		if out, err := c.kubectl(t, "wait", "-n", ns, "--for=condition=complete", "--timeout=120s", "job/job-wq-more"); err != nil {
			t.Fatalf("%v %s\n%s", err, out, wqJobDebug(t, c, ns, "job-wq-more"))
		}
		logs := c.mustKubectl(t, "logs", "-n", ns, "-l", "job-name=job-wq-more", "--tail=-1")
		if got := wqProcessed(logs, wqProcessing); strings.Join(got, " ") != "apple banana cherry" {
			t.Errorf("messages processed %v\n%s", got, logs)
		}
	})
}

// wqNeedRabbitMQ skips unless the test can run the broker: root (the
// broker's pod runs the host's rabbitmq-server) and the Debian packages
// that scripts/install-deps.sh installs.
func wqNeedRabbitMQ(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run rabbitmq-server as a pod")
	}
	if _, err := os.Stat("/usr/lib/rabbitmq/bin/rabbitmq-server"); err != nil {
		t.Skip("rabbitmq-server is not installed (scripts/install-deps.sh installs it)")
	}
	for _, tool := range []string{"amqp-declare-queue", "amqp-publish", "amqp-consume"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian amqp-tools; scripts/install-deps.sh installs it)", tool)
		}
	}
}

// wqPublish declares queue and publishes msgs to it from a pod.
func wqPublish(t *testing.T, c *cluster, ns, pod, queue string, msgs []string) {
	t.Helper()
	wqRunPod(t, c, ns, pod, "ubuntu:18.04", "120s",
		`amqp-declare-queue --url=$BROKER_URL -q `+queue+` -d >/dev/null || exit 1
		for f in `+strings.Join(msgs, " ")+`; do amqp-publish --url=$BROKER_URL -r `+queue+` -p -b $f || exit 1; done`,
		wqBrokerURL)
}

// wqRabbitJob creates the example Job under another name, queue and counts;
// each item takes a second instead of the example's ten.
func wqRabbitJob(t *testing.T, c *cluster, ns, name, queue string, completions, parallelism int) {
	t.Helper()
	job := wqManifest(t, example("rabbitmq-workqueue", "job.yaml"),
		"name: job-wq-1", "name: "+name,
		"completions: 8", "completions: "+strconv.Itoa(completions),
		"parallelism: 2", "parallelism: "+strconv.Itoa(parallelism),
		"value: job1", "value: "+queue,
		"sleep 10", "sleep 1")
	if _, err := c.kubectlIn(t, job, "apply", "-n", ns, "-f", "-"); err != nil {
		t.Fatal(err)
	}
}

// wqJobDebug collects what explains a Job that did not finish.
func wqJobDebug(t *testing.T, c *cluster, ns, job string) string {
	describe, _ := c.kubectl(t, "describe", "job", job, "-n", ns)
	pods, _ := c.kubectl(t, "get", "pods", "-n", ns, "-o", "wide")
	logs, _ := c.kubectl(t, "logs", "-n", ns, "-l", "job-name="+job, "--tail=20", "--prefix")
	return describe + "\n" + pods + "\n" + logs
}
