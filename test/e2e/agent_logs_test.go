package e2e

import (
	"strings"
	"testing"
	"time"
)

// agentE2ELogsPod has two containers: "a" prints three lines and stays;
// "b" fails its first run and stays up on the second (the emptyDir keeps
// the mark across the restart, as it does in Kubernetes); "c" prints a
// line, two seconds later another.
const agentE2ELogsPod = `apiVersion: v1
kind: Pod
metadata:
  name: talker
  labels: {app: talker}
spec:
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 1
  volumes:
  - name: work
    emptyDir: {}
  containers:
  - name: a
    image: busybox
    command: ["sh", "-c", "echo a1; echo a2; echo a3; exec sleep 600"]
  - name: b
    image: busybox
    volumeMounts: [{name: work, mountPath: /w}]
    command: ["sh", "-c", "if [ -f /w/ran ]; then echo b-second; exec sleep 600; fi; touch /w/ran; echo b-first; exit 3"]
  - name: c
    image: busybox
    command: ["sh", "-c", "echo early; sleep 2; echo late; exec sleep 600"]
`

// agentE2EFollowPod prints "start" and waits until a file appears in its
// emptyDir, then prints "stopped" and exits.
const agentE2EFollowPod = `apiVersion: v1
kind: Pod
metadata:
  name: follower
spec:
  restartPolicy: Never
  volumes:
  - name: work
    emptyDir: {}
  containers:
  - name: main
    image: busybox
    volumeMounts: [{name: work, mountPath: /w}]
    command: ["sh", "-c", "echo start; while [ ! -f /w/stop ]; do sleep 0.1; done; echo stopped"]
`

// agentE2EIndexedJob runs three pods that each print their index.
const agentE2EIndexedJob = `apiVersion: batch/v1
kind: Job
metadata:
  name: trio
spec:
  completionMode: Indexed
  completions: 3
  parallelism: 3
  template:
    metadata:
      labels: {group: trio}
    spec:
      restartPolicy: Never
      containers:
      - name: worker
        image: busybox
        command: ["sh", "-c", "echo worker-$JOB_COMPLETION_INDEX"]
`

// TestAgentLogs runs `kubectl logs` with its options against pods of the
// process runtime.
func TestAgentLogs(t *testing.T) {
	needRoot(t)
	ns := agentE2ENamespace(t, shared, "e2e-agent-logs")
	agentE2EApply(t, shared, ns, agentE2ELogsPod)
	eventually(t, 90*time.Second, "talker running with b restarted once", func() (bool, string) {
		out, err := shared.kubectl(t, "get", "pod", "talker", "-n", ns, "-o",
			`jsonpath={.status.containerStatuses[?(@.name=="b")].restartCount} {.status.containerStatuses[?(@.name=="b")].state.running.startedAt}`)
		f := fieldsOf(out)
		return err == nil && len(f) == 2 && f[0] == "1", out
	})
	logs := func(args ...string) []string {
		t.Helper()
		return agentE2ELines(shared.mustKubectl(t, append([]string{"logs", "-n", ns}, args...)...))
	}
	eventually(t, 30*time.Second, "c's second line", func() (bool, string) {
		out, err := shared.kubectl(t, "logs", "-n", ns, "talker", "-c", "c")
		return err == nil && strings.Contains(out, "late"), out
	})

	t.Run("container", func(t *testing.T) {
		if got := logs("talker", "-c", "a"); !slicesEqual(got, []string{"a1", "a2", "a3"}) {
			t.Fatalf("-c a: %q", got)
		}
		if got := logs("talker", "-c", "b"); !slicesEqual(got, []string{"b-second"}) {
			t.Fatalf("-c b: %q", got)
		}
	})
	t.Run("previous", func(t *testing.T) {
		if got := logs("talker", "-c", "b", "--previous"); !slicesEqual(got, []string{"b-first"}) {
			t.Fatalf("--previous: %q", got)
		}
		// The first container has not restarted: kubectl reports the
		// apiserver's error.
		if _, err := shared.kubectl(t, "logs", "-n", ns, "talker", "-c", "a", "--previous"); err == nil {
			t.Fatal("--previous of a container that never restarted succeeded")
		}
	})
	t.Run("tail", func(t *testing.T) {
		if got := logs("talker", "-c", "a", "--tail=2"); !slicesEqual(got, []string{"a2", "a3"}) {
			t.Fatalf("--tail=2: %q", got)
		}
		if got := logs("talker", "-c", "a", "--tail=0"); len(got) != 0 {
			t.Fatalf("--tail=0: %q", got)
		}
	})
	t.Run("timestamps", func(t *testing.T) {
		got := logs("talker", "-c", "a", "--timestamps")
		if len(got) != 3 {
			t.Fatalf("--timestamps: %q", got)
		}
		var prev time.Time
		for i, l := range got {
			ts, text, ok := strings.Cut(l, " ")
			at, err := time.Parse(time.RFC3339Nano, ts)
			if !ok || err != nil || text != "a"+itoa(i+1) {
				t.Fatalf("line %q: want an RFC3339 timestamp then a%d (%v)", l, i+1, err)
			}
			if at.Before(prev) {
				t.Fatalf("timestamps go backwards: %q", got)
			}
			prev = at
		}
	})
	t.Run("since", func(t *testing.T) {
		if got := logs("talker", "-c", "c", "--since=1h"); !slicesEqual(got, []string{"early", "late"}) {
			t.Fatalf("--since=1h: %q", got)
		}
		// "late" came at least two seconds after "early": from the whole
		// second in which it was written, only it remains.
		stamped := logs("talker", "-c", "c", "--timestamps")
		if len(stamped) != 2 {
			t.Fatalf("--timestamps: %q", stamped)
		}
		at, err := time.Parse(time.RFC3339Nano, strings.Fields(stamped[1])[0])
		if err != nil {
			t.Fatal(err)
		}
		since := at.UTC().Truncate(time.Second).Format(time.RFC3339)
		if got := logs("talker", "-c", "c", "--since-time="+since); !slicesEqual(got, []string{"late"}) {
			t.Fatalf("--since-time=%s: %q", since, got)
		}
		future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		if got := logs("talker", "-c", "c", "--since-time="+future); len(got) != 0 {
			t.Fatalf("--since-time in the future: %q", got)
		}
	})
	t.Run("all-containers", func(t *testing.T) {
		// kubectl fetches the containers' logs in no fixed order; each
		// container's lines stay in order.
		got := logs("talker", "--all-containers")
		joined := " " + strings.Join(got, " ") + " "
		for _, part := range []string{" a1 a2 a3 ", " b-second ", " early late "} {
			if len(got) != 6 || !strings.Contains(joined, part) {
				t.Fatalf("--all-containers: %q", got)
			}
		}
		prefixed := logs("talker", "--all-containers", "--prefix")
		for _, want := range []string{"[pod/talker/a] a1", "[pod/talker/b] b-second", "[pod/talker/c] late"} {
			if !strings.Contains(strings.Join(prefixed, "\n"), want) {
				t.Fatalf("--all-containers --prefix lacks %q: %q", want, prefixed)
			}
		}
	})
	t.Run("selector", func(t *testing.T) {
		agentE2EApply(t, shared, ns, agentE2EIndexedJob)
		shared.mustKubectl(t, "wait", "-n", ns, "--for=condition=complete", "--timeout=90s", "job/trio")
		got := logs("-l", "group=trio", "--prefix")
		if len(got) != 3 {
			t.Fatalf("-l group=trio --prefix: %q", got)
		}
		pods := map[string]bool{}
		words := map[string]bool{}
		for _, l := range got {
			prefix, word, _ := strings.Cut(l, " ")
			if !strings.HasPrefix(prefix, "[pod/trio-") || !strings.HasSuffix(prefix, "/worker]") {
				t.Fatalf("line %q lacks the pod/container prefix", l)
			}
			pods[prefix], words[word] = true, true
		}
		if len(pods) != 3 || !words["worker-0"] || !words["worker-1"] || !words["worker-2"] {
			t.Fatalf("-l over three pods gave %q", got)
		}
	})
	t.Run("follow", func(t *testing.T) {
		agentE2EApply(t, shared, ns, agentE2EFollowPod)
		agentE2EWaitRunning(t, shared, ns, "follower")
		sc := shared.kubectlStream(t, 90*time.Second, "logs", "-f", "-n", ns, "follower")
		if !sc.Scan() || sc.Text() != "start" {
			t.Fatalf("logs -f first line %q (%v)", sc.Text(), sc.Err())
		}
		// Only now does the container go on: the line that follows must
		// arrive on the open stream.
		shared.mustKubectl(t, "exec", "-n", ns, "follower", "--", "touch", "/w/stop")
		if !sc.Scan() || sc.Text() != "stopped" {
			t.Fatalf("logs -f next line %q (%v)", sc.Text(), sc.Err())
		}
		// The stream ends when the container does.
		for sc.Scan() {
			t.Errorf("unexpected line %q", sc.Text())
		}
		if err := sc.Wait(); err != nil {
			t.Fatalf("logs -f did not end cleanly with the container: %v", err)
		}
	})
}
