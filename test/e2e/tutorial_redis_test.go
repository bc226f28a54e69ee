package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTutorialRedisWorkQueue runs examples/redis-workqueue as the tutorial
// does: Redis as a pod behind the Service redis, the list job2 filled from
// a pod with redis-cli, and the Job of rediswq-worker pods draining it.
func TestTutorialRedisWorkQueue(t *testing.T) {
	t.Parallel()
	c := shared
	ns := namespace(t, c, "tut-redis")
	c.mustKubectl(t, "apply", "-n", ns, "-f", example("redis-workqueue", "redis-pod.yaml"))
	c.mustKubectl(t, "apply", "-n", ns, "-f", example("redis-workqueue", "redis-service.yaml"))
	c.mustKubectl(t, "wait", "-n", ns, "--for=condition=Ready", "--timeout=60s", "pod/redis-master")

	// Fill the queue from a pod, as the tutorial does, through the Service.
	items := wqFruits
	c.mustKubectl(t, "run", "fill", "-n", ns, "--image=redis", "--restart=Never", "--command", "--",
		"sh", "-c", `test -n "$REDIS_SERVICE_HOST" || { echo no REDIS_SERVICE_HOST; exit 3; }; `+
			`redis-cli -h $REDIS_SERVICE_HOST -p $REDIS_SERVICE_PORT rpush job2 `+strings.Join(items, " "))
	var phase string
	eventually(t, 60*time.Second, "the fill pod to finish", func() (bool, string) {
		phase = jsonpath(t, c, ns, "pod/fill", "{.status.phase}")
		return phase == "Succeeded" || phase == "Failed", phase
	})
	fill := strings.TrimSpace(c.mustKubectl(t, "logs", "-n", ns, "fill"))
	if phase != "Succeeded" || (fill != "(integer) 9" && fill != "9") {
		t.Fatalf("fill pod %s, rpush printed %q", phase, fill)
	}

	// The worker is the one built next to batchlet; a second of work per
	// item instead of the tutorial's ten keeps the test short.
	job := wqManifest(t, example("redis-workqueue", "job.yaml"),
		`command: ["rediswq-worker"]`, `command: ["`+wqWorkerBin(t)+`", "-work-time=1s"]`)
	if _, err := c.kubectlIn(t, job, "apply", "-n", ns, "-f", "-"); err != nil {
		t.Fatal(err)
	}
	if out, err := c.kubectl(t, "wait", "-n", ns, "--for=condition=complete", "--timeout=180s", "job/job-wq-2"); err != nil {
		describe, _ := c.kubectl(t, "describe", "jobs/job-wq-2", "-n", ns)
		logs, _ := c.kubectl(t, "logs", "-n", ns, "-l", "job-name=job-wq-2", "--tail=-1")
		t.Fatalf("job did not complete: %v %s\n%s\n%s", err, out, describe, logs)
	}
	describe := c.mustKubectl(t, "describe", "jobs/job-wq-2", "-n", ns)
	if !regexp.MustCompile(`Pods Statuses:\s+0 Active \(0 Ready\) / 2 Succeeded / 0 Failed`).MatchString(describe) {
		t.Errorf("describe:\n%s", describe)
	}
	if got := jsonpath(t, c, ns, "job/job-wq-2", `{.status.conditions[?(@.type=="Complete")].status}`); got != "True" {
		t.Errorf("Complete condition status = %q", got)
	}
	logs := c.mustKubectl(t, "logs", "-n", ns, "-l", "job-name=job-wq-2", "--tail=-1")
	worked := wqProcessed(logs, regexp.MustCompile(`(?m)^Working on (\S+)$`))
	if want := wqSorted(items); strings.Join(worked, " ") != strings.Join(want, " ") {
		t.Errorf("items processed %v, want each of %v once\n%s", worked, want, logs)
	}
	if n := strings.Count(logs, "Queue empty, exiting"); n != 2 {
		t.Errorf("%d workers reported an empty queue, want 2\n%s", n, logs)
	}
	// Nothing is left in the queue or its processing list.
	c.mustKubectl(t, "run", "check", "-n", ns, "--image=redis", "--restart=Never", "--command", "--",
		"sh", "-c", `redis-cli -h $REDIS_SERVICE_HOST -p $REDIS_SERVICE_PORT eval "return redis.call('llen', KEYS[1]) + redis.call('llen', KEYS[2])" 2 job2 job2:processing`)
	eventually(t, 60*time.Second, "the check pod to finish", func() (bool, string) {
		phase = jsonpath(t, c, ns, "pod/check", "{.status.phase}")
		return phase == "Succeeded" || phase == "Failed", phase
	})
	if left := strings.TrimSpace(c.mustKubectl(t, "logs", "-n", ns, "check")); phase != "Succeeded" || (left != "0" && left != "(integer) 0") {
		t.Errorf("check pod %s: items left in job2 and job2:processing = %q", phase, left)
	}
}
