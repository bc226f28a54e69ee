package e2e

import (
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestTutorialRedisWorkQueue runs examples/redis-workqueue: Redis as a pod
// behind the Service redis, the list job2 filled from a pod, and the Job of
// rediswq-worker pods draining it. It needs the redis image profile and
// Service environment variables in pods; it skips when they are missing.
func TestTutorialRedisWorkQueue(t *testing.T) {
	t.Parallel()
	c := shared
	ns := namespace(t, c, "tut-redis")
	c.mustKubectl(t, "apply", "-n", ns, "-f", example("redis-workqueue", "redis-pod.yaml"))
	c.mustKubectl(t, "apply", "-n", ns, "-f", example("redis-workqueue", "redis-service.yaml"))
	if _, err := c.kubectl(t, "wait", "-n", ns, "--for=condition=Ready", "--timeout=30s", "pod/redis-master"); err != nil {
		t.Skipf("the redis pod does not become Ready (no redis image profile or redis-server on this node?): %v", err)
	}

	// Fill the queue from a pod, as the tutorial does, through the Service.
	items := []string{"apple", "banana", "cherry", "date", "fig", "grape", "lemon", "melon", "orange"}
	c.mustKubectl(t, "run", "fill", "-n", ns, "--image=redis", "--restart=Never", "--command", "--",
		"sh", "-c", `test -n "$REDIS_SERVICE_HOST" || { echo no REDIS_SERVICE_HOST; exit 3; }; redis-cli -h $REDIS_SERVICE_HOST -p $REDIS_SERVICE_PORT rpush job2 `+strings.Join(items, " "))
	var phase string
	eventually(t, 60*time.Second, "the fill pod to finish", func() (bool, string) {
		phase = jsonpath(t, c, ns, "pod/fill", "{.status.phase}")
		return phase == "Succeeded" || phase == "Failed", phase
	})
	if phase != "Succeeded" {
		logs, _ := c.kubectl(t, "logs", "-n", ns, "fill")
		t.Skipf("a pod cannot reach Redis through its Service variables yet: %s", logs)
	}
	if out := strings.TrimSpace(c.mustKubectl(t, "logs", "-n", ns, "fill")); out != "(integer) 9" && out != "9" {
		t.Fatalf("rpush printed %q", out)
	}

	c.mustKubectl(t, "apply", "-n", ns, "-f", example("redis-workqueue", "job.yaml"))
	c.mustKubectl(t, "wait", "-n", ns, "--for=condition=complete", "--timeout=240s", "job/job-wq-2")
	describe := c.mustKubectl(t, "describe", "jobs/job-wq-2", "-n", ns)
	if !regexp.MustCompile(`Pods Statuses:\s+0 Active \(0 Ready\) / 2 Succeeded / 0 Failed`).MatchString(describe) {
		t.Errorf("describe:\n%s", describe)
	}
	logs := c.mustKubectl(t, "logs", "-n", ns, "-l", "job-name=job-wq-2", "--tail=-1")
	var worked []string
	for _, m := range regexp.MustCompile(`(?m)^Working on (\S+)$`).FindAllStringSubmatch(logs, -1) {
		worked = append(worked, m[1])
	}
	sort.Strings(worked)
	want := append([]string(nil), items...)
	sort.Strings(want)
	if strings.Join(worked, " ") != strings.Join(want, " ") {
		t.Errorf("items processed %v, want each of %v once\n%s", worked, want, logs)
	}
}
