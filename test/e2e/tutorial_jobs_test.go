package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The Job basics of the seed tutorials, one subtest per walk-through of
// examples/job-basics, each in its own namespace.
func TestTutorialJobBasics(t *testing.T) {
	t.Parallel()
	c := shared
	t.Run("BackoffLimit", func(t *testing.T) {
		t.Parallel()
		ns := namespace(t, c, "tut-backoff")
		c.mustKubectl(t, "apply", "-n", ns, "-f", example("job-basics", "job-failing.yaml"))
		c.mustKubectl(t, "wait", "-n", ns, "--for=condition=failed", "--timeout=90s", "job/job-failing")
		if r := jsonpath(t, c, ns, "job/job-failing", `{.status.conditions[?(@.type=="Failed")].reason}`); r != "BackoffLimitExceeded" {
			t.Fatalf("Failed reason %q", r)
		}
		// backoffLimit 2: the first pod and two retries, each after a delay.
		starts := fieldsOf(c.mustKubectl(t, "get", "pods", "-n", ns, "-l", "job-name=job-failing", "--sort-by=.metadata.creationTimestamp", "-o", "jsonpath={.items[*].metadata.creationTimestamp}"))
		if len(starts) != 3 {
			t.Fatalf("%d pods created, want 3: %v", len(starts), starts)
		}
		var at []time.Time
		for _, s := range starts {
			ts, err := time.Parse(time.RFC3339, s)
			if err != nil {
				t.Fatal(err)
			}
			at = append(at, ts)
		}
		if d1, d2 := at[1].Sub(at[0]), at[2].Sub(at[1]); d1 < 8*time.Second || d2 <= d1 {
			t.Errorf("retry delays %s then %s, want about 10s then 20s", d1, d2)
		}
		describe := c.mustKubectl(t, "describe", "job", "job-failing", "-n", ns)
		if !strings.Contains(describe, "BackoffLimitExceeded") || !strings.Contains(describe, "Job has reached the specified backoff limit") {
			t.Errorf("describe lacks the failure:\n%s", describe)
		}
	})

	t.Run("OnFailureRestartsInPlace", func(t *testing.T) {
		t.Parallel()
		ns := namespace(t, c, "tut-onfailure")
		c.mustKubectl(t, "apply", "-n", ns, "-f", example("job-basics", "job-onfailure.yaml"))
		eventually(t, 60*time.Second, "the pod to restart in place", func() (bool, string) {
			out := c.mustKubectl(t, "get", "pods", "-n", ns, "-l", "job-name=job-onfailure", "-o", "jsonpath={range .items[*]}{.metadata.name} {.status.containerStatuses[0].restartCount}{\"\\n\"}{end}")
			rows := strings.Split(strings.TrimSpace(out), "\n")
			if len(rows) != 1 {
				return false, out
			}
			f := fieldsOf(rows[0])
			n, _ := strconv.Atoi(f[len(f)-1])
			return len(f) == 2 && n >= 2, out
		})
		table := c.mustKubectl(t, "get", "pods", "-n", ns)
		if !regexp.MustCompile(`(?m)^job-onfailure-[a-z0-9]{5}\s+0/1\s+\S+\s+[1-9]`).MatchString(table) {
			t.Errorf("RESTARTS column does not grow:\n%s", table)
		}
		c.mustKubectl(t, "delete", "job", "job-onfailure", "-n", ns)
	})

	t.Run("ParallelismAndCompletions", func(t *testing.T) {
		t.Parallel()
		ns := namespace(t, c, "tut-parallel")
		c.mustKubectl(t, "apply", "-n", ns, "-f", example("job-basics", "job-parallel.yaml"))
		maxRunning := 0
		eventually(t, 90*time.Second, "6/6 completions", func() (bool, string) {
			running := fieldsOf(c.mustKubectl(t, "get", "pods", "-n", ns, "-l", "job-name=job-parallel", "--field-selector=status.phase=Running", "-o", "name"))
			maxRunning = max(maxRunning, len(running))
			s := jsonpath(t, c, ns, "job/job-parallel", "{.status.succeeded}")
			return s == "6", s
		})
		if maxRunning > 2 {
			t.Errorf("%d pods ran at once, parallelism is 2", maxRunning)
		}
		jobs := c.mustKubectl(t, "get", "jobs", "-n", ns)
		if !regexp.MustCompile(`(?m)^job-parallel\s+Complete\s+6/6\s+`).MatchString(jobs) {
			t.Errorf("get jobs:\n%s", jobs)
		}
		if pods := fieldsOf(c.mustKubectl(t, "get", "pods", "-n", ns, "-l", "job-name=job-parallel", "-o", "name")); len(pods) != 6 {
			t.Errorf("%d pods, want 6", len(pods))
		}
	})

	t.Run("ActiveDeadlineSeconds", func(t *testing.T) {
		t.Parallel()
		ns := namespace(t, c, "tut-deadline")
		c.mustKubectl(t, "apply", "-n", ns, "-f", example("job-basics", "pi-with-timeout.yaml"))
		c.mustKubectl(t, "wait", "-n", ns, "--for=condition=failed", "--timeout=60s", "job/pi-with-timeout")
		if r := jsonpath(t, c, ns, "job/pi-with-timeout", `{.status.conditions[?(@.type=="Failed")].reason}`); r != "DeadlineExceeded" {
			t.Fatalf("Failed reason %q", r)
		}
		eventually(t, 30*time.Second, "the running pod to be terminated", func() (bool, string) {
			out := c.mustKubectl(t, "get", "pods", "-n", ns, "-l", "job-name=pi-with-timeout", "-o", "jsonpath={.items[*].status.phase}")
			return !strings.Contains(out, "Running") && !strings.Contains(out, "Pending"), out
		})
	})

	t.Run("TTLAfterFinished", func(t *testing.T) {
		t.Parallel()
		ns := namespace(t, c, "tut-ttl")
		c.mustKubectl(t, "apply", "-n", ns, "-f", example("job-basics", "pi-with-ttl.yaml"))
		eventually(t, 90*time.Second, "the finished Job to be deleted", func() (bool, string) {
			out := c.mustKubectl(t, "get", "jobs", "-n", ns, "-o", "name")
			return strings.TrimSpace(out) == "", out
		})
		eventually(t, 30*time.Second, "its pod to be deleted", func() (bool, string) {
			out := c.mustKubectl(t, "get", "pods", "-n", ns, "-o", "name")
			return strings.TrimSpace(out) == "", out
		})
	})

	t.Run("SuspendResume", func(t *testing.T) {
		t.Parallel()
		ns := namespace(t, c, "tut-suspend")
		c.mustKubectl(t, "apply", "-n", ns, "-f", example("job-basics", "myjob.yaml"))
		eventually(t, 30*time.Second, "a pod to be created", func() (bool, string) {
			out := c.mustKubectl(t, "get", "pods", "-n", ns, "-l", "job-name=myjob", "-o", "name")
			return strings.TrimSpace(out) != "", out
		})
		c.mustKubectl(t, "patch", "job/myjob", "-n", ns, "--type=strategic", "--patch", `{"spec":{"suspend":true}}`)
		eventually(t, 30*time.Second, "the suspended Job's pods to be deleted", func() (bool, string) {
			out := c.mustKubectl(t, "get", "pods", "-n", ns, "-l", "job-name=myjob", "-o", "name")
			return strings.TrimSpace(out) == "", out
		})
		if s := jsonpath(t, c, ns, "job/myjob", `{.status.conditions[?(@.type=="Suspended")].status}`); s != "True" {
			t.Fatalf("Suspended condition %q", s)
		}
		c.mustKubectl(t, "patch", "job/myjob", "-n", ns, "--type=strategic", "--patch", `{"spec":{"suspend":false}}`)
		c.mustKubectl(t, "wait", "-n", ns, "--for=condition=complete", "--timeout=60s", "job/myjob")
		describe := c.mustKubectl(t, "describe", "job", "myjob", "-n", ns)
		order := regexp.MustCompile(`(?s)SuccessfulCreate.*Created pod: myjob-.*SuccessfulDelete.*Deleted pod: myjob-.*Suspended.*Job suspended.*SuccessfulCreate.*Resumed.*Job resumed`)
		events := describe[strings.Index(describe, "Events:"):]
		if !order.MatchString(strings.ReplaceAll(events, "\n", " ")) {
			// Events in the same second may be listed in either order.
			for _, want := range []string{"Suspended", "Job suspended", "Resumed", "Job resumed", "SuccessfulDelete"} {
				if !strings.Contains(events, want) {
					t.Errorf("describe events lack %q:\n%s", want, events)
				}
			}
		}
		if out := c.mustKubectl(t, "logs", "-n", ns, "job/myjob"); strings.TrimSpace(out) != "hello k8s!" {
			t.Errorf("logs job/myjob = %q", out)
		}
	})

	t.Run("ManualSelector", func(t *testing.T) {
		t.Parallel()
		ns := namespace(t, c, "tut-selector")
		c.mustKubectl(t, "apply", "-n", ns, "-f", example("job-basics", "old.yaml"))
		var pod string
		eventually(t, 30*time.Second, "job old's pod to run", func() (bool, string) {
			pod = strings.TrimSpace(c.mustKubectl(t, "get", "pods", "-n", ns, "-l", "job-name=old", "--field-selector=status.phase=Running", "-o", "jsonpath={.items[*].metadata.name}"))
			return pod != "", pod
		})
		uid := jsonpath(t, c, ns, "job/old", `{.spec.selector.matchLabels.batch\.kubernetes\.io/controller-uid}`)
		if uid == "" {
			t.Fatal("job old has no controller-uid selector")
		}
		c.mustKubectl(t, "delete", "jobs/old", "-n", ns, "--cascade=orphan")
		eventually(t, 20*time.Second, "the orphaned pod to lose its owner", func() (bool, string) {
			out := jsonpath(t, c, ns, "pod/"+pod, "{.metadata.ownerReferences}")
			return out == "", out
		})
		tmpl, err := os.ReadFile(example("job-basics", "new.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		newJob := filepath.Join(t.TempDir(), "new.yaml")
		if err := os.WriteFile(newJob, []byte(strings.ReplaceAll(string(tmpl), "OLD_UID", uid)), 0o644); err != nil {
			t.Fatal(err)
		}
		c.mustKubectl(t, "apply", "-n", ns, "-f", newJob)
		eventually(t, 20*time.Second, "job new to adopt the pod", func() (bool, string) {
			out := jsonpath(t, c, ns, "pod/"+pod, "{.metadata.ownerReferences[0].name}")
			return out == "new", out
		})
		newUID := jsonpath(t, c, ns, "job/new", "{.metadata.uid}")
		if newUID == uid {
			t.Fatalf("job new reuses the old uid")
		}
		c.mustKubectl(t, "wait", "-n", ns, "--for=condition=complete", "--timeout=60s", "job/new")
		if pods := fieldsOf(c.mustKubectl(t, "get", "pods", "-n", ns, "-o", "name")); len(pods) != 1 {
			t.Errorf("job new created pods of its own: %v", pods)
		}
	})
}
