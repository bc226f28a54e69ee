package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// agentE2EKubectlCode runs kubectl and returns its stdout, stderr and exit
// code, so that tests can check what a failing command propagates.
func agentE2EKubectlCode(t *testing.T, c *cluster, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectlBin, append([]string{"--cache-dir", c.cacheDir}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &exitErr):
		return stdout.String(), stderr.String(), exitErr.ExitCode()
	}
	t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	return "", "", -1
}

const agentE2ESleeperJob = `apiVersion: batch/v1
kind: Job
metadata:
  name: sleeper
spec:
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "echo ready; sleep 600"]
`

// TestAgentExec: `kubectl exec` into a running Job pod; stdout, stderr and
// the exit code of the command come back to the user, and `exec -i` feeds
// stdin to it.
func TestAgentExec(t *testing.T) {
	ns := agentE2ENamespace(t, shared, "e2e-agent-exec")
	agentE2EApply(t, shared, ns, agentE2ESleeperJob)
	pod := agentE2EJobPod(t, shared, ns, "sleeper")
	agentE2EWaitRunning(t, shared, ns, pod)

	out, errOut, code := agentE2EKubectlCode(t, shared, "", "exec", "-n", ns, pod, "--",
		"sh", "-c", "echo out-$((6*7)); echo err-line >&2; exit 7")
	if code != 7 || strings.TrimSpace(out) != "out-42" || !strings.Contains(errOut, "err-line") {
		t.Fatalf("exec: code %d stdout %q stderr %q; want code 7, stdout out-42, stderr with err-line", code, out, errOut)
	}
	if !strings.Contains(errOut, "command terminated with exit code 7") {
		t.Errorf("stderr %q lacks kubectl's \"command terminated with exit code 7\"", errOut)
	}

	out, _, code = agentE2EKubectlCode(t, shared, "alpha\nbeta\n", "exec", "-i", "-n", ns, pod, "-c", "main", "--",
		"sh", "-c", "while read l; do echo \"in:$l\"; done; echo eof")
	if code != 0 || !slicesEqual(agentE2ELines(out), []string{"in:alpha", "in:beta", "eof"}) {
		t.Fatalf("exec -i: code %d stdout %q", code, out)
	}

	// The command runs in the pod's environment, not the host's.
	out, _, code = agentE2EKubectlCode(t, shared, "", "exec", "-n", ns, pod, "--", "sh", "-c", "echo $HOSTNAME")
	if code != 0 || strings.TrimSpace(out) != pod {
		t.Fatalf("exec HOSTNAME: code %d stdout %q, want %q", code, out, pod)
	}

	if os.Geteuid() == 0 {
		// As root the pod has its own UTS namespace: exec sees its hostname.
		out, _, code = agentE2EKubectlCode(t, shared, "", "exec", "-n", ns, pod, "--", "hostname")
		if code != 0 || strings.TrimSpace(out) != pod {
			t.Fatalf("exec hostname: code %d stdout %q, want %q", code, out, pod)
		}
	}

	_, errOut, code = agentE2EKubectlCode(t, shared, "", "exec", "-n", ns, pod, "--", "/no/such/binary")
	if code == 0 {
		t.Fatalf("exec of a missing binary succeeded; stderr %q", errOut)
	}
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

const agentE2EAttachPod = `apiVersion: v1
kind: Pod
metadata:
  name: attached
spec:
  restartPolicy: Never
  containers:
  - name: reader
    image: busybox
    stdin: true
    stdinOnce: true
    command: ["sh", "-c", "while read l; do echo \"got:$l\"; done; echo bye"]
`

const agentE2ETickerPod = `apiVersion: v1
kind: Pod
metadata:
  name: ticker
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: tick
    image: busybox
    command: ["sh", "-c", "i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.2; done"]
`

// TestAgentAttach: `kubectl attach -i` feeds a stdinOnce container and
// sees its output; closing stdin ends the container, which completes.
// Plain `kubectl attach` streams a running container's output.
func TestAgentAttach(t *testing.T) {
	ns := agentE2ENamespace(t, shared, "e2e-agent-attach")
	agentE2EApply(t, shared, ns, agentE2EAttachPod)
	agentE2EWaitRunning(t, shared, ns, "attached")
	out, errOut, code := agentE2EKubectlCode(t, shared, "one\ntwo\n", "attach", "-i", "-n", ns, "attached", "-c", "reader")
	if code != 0 {
		t.Fatalf("attach -i: code %d stderr %q", code, errOut)
	}
	lines := agentE2ELines(out)
	if !slicesEqual(lines, []string{"got:one", "got:two", "bye"}) {
		t.Fatalf("attach -i output %q, want got:one got:two bye", lines)
	}
	agentE2EWaitStatus(t, shared, ns, "attached", "Completed")

	agentE2EApply(t, shared, ns, agentE2ETickerPod)
	agentE2EWaitRunning(t, shared, ns, "ticker")
	// Attach shows what the container prints from now on: two successive
	// ticks prove a live stream.
	sc := shared.kubectlStream(t, time.Minute, "attach", "-n", ns, "ticker")
	var seen []string
	for len(seen) < 2 && sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "tick-") {
			seen = append(seen, l)
		}
	}
	if len(seen) < 2 {
		t.Fatalf("attach streamed %q before ending (%v)", seen, sc.Err())
	}
	var a, b int
	fmt.Sscanf(seen[0], "tick-%d", &a)
	fmt.Sscanf(seen[1], "tick-%d", &b)
	if b != a+1 {
		t.Fatalf("attach ticks %q are not consecutive", seen)
	}
}

// agentE2ETmux is a tmux server of its own, so that tests never touch a
// person's sessions.
type agentE2ETmux struct {
	t      *testing.T
	socket string
}

func agentE2ENewTmux(t *testing.T, command string, env ...string) *agentE2ETmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	tm := &agentE2ETmux{t: t, socket: filepath.Join(t.TempDir(), "tmux.sock")}
	cmd := exec.Command("tmux", "-S", tm.socket, "-f", "/dev/null", "new-session", "-d", "-s", "main", "-x", "120", "-y", "40", command)
	cmd.Env = append(append(os.Environ(), "TERM=xterm"), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", tm.socket, "kill-server").Run() })
	return tm
}

// keys types text as a person would; "Enter" is a key name.
func (tm *agentE2ETmux) keys(keys ...string) {
	tm.t.Helper()
	args := append([]string{"-S", tm.socket, "send-keys", "-t", "main"}, keys...)
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		tm.t.Fatalf("tmux send-keys: %v: %s", err, out)
	}
}

// screen is what the terminal shows now.
func (tm *agentE2ETmux) screen() string {
	out, err := exec.Command("tmux", "-S", tm.socket, "capture-pane", "-p", "-t", "main").CombinedOutput()
	if err != nil {
		return "capture-pane: " + err.Error()
	}
	return string(out)
}

// waitLine waits until a line of the screen satisfies match.
func (tm *agentE2ETmux) waitLine(what string, match func(line string) bool) {
	tm.t.Helper()
	eventually(tm.t, 90*time.Second, what+" on the terminal", func() (bool, string) {
		s := tm.screen()
		for _, l := range strings.Split(s, "\n") {
			if match(strings.TrimRight(l, " ")) {
				return true, s
			}
		}
		return false, s
	})
}

// TestAgentRunInteractiveTTY drives `kubectl run -i --tty ... -- sh` in a
// real terminal: the user sees busybox's prompt, types a command, sees its
// result, exits, and the pod ends Completed.
func TestAgentRunInteractiveTTY(t *testing.T) {
	ns := agentE2ENamespace(t, shared, "e2e-agent-tty")
	command := fmt.Sprintf("%s --cache-dir %s run -i --tty t1 -n %s --image=busybox --restart=Never -- sh; echo KUBECTL-EXIT-$?; sleep 3600",
		kubectlBin, shared.cacheDir, ns)
	tm := agentE2ENewTmux(t, command, "KUBECONFIG="+shared.kubeconfig)
	tm.waitLine("busybox prompt", func(l string) bool { return strings.HasPrefix(l, "/ #") })
	tm.keys("echo hi-$((1+2)) $(tty)", "Enter")
	// The typed line echoes the expression; only the shell's answer is
	// the evaluated one, and a terminal is attached.
	tm.waitLine("command output", func(l string) bool { return strings.HasPrefix(l, "hi-3 /dev/") })
	tm.keys("exit", "Enter")
	tm.waitLine("kubectl exit", func(l string) bool { return strings.HasPrefix(l, "KUBECTL-EXIT-") })
	if s := tm.screen(); !strings.Contains(s, "KUBECTL-EXIT-0") {
		t.Fatalf("kubectl did not exit 0:\n%s", s)
	}
	agentE2EWaitStatus(t, shared, ns, "t1", "Completed")
}
