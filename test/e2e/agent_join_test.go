package e2e

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// agentE2ESpreadJob has four pods that stay up until deleted.
const agentE2ESpreadJob = `apiVersion: batch/v1
kind: Job
metadata:
  name: spread
spec:
  completions: 4
  parallelism: 4
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "echo hello from $HOSTNAME; exec sleep 600"]
`

// agentE2EAgent is a `batchlet agent` process.
type agentE2EAgent struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	log    strings.Builder
	joined chan struct{}
	exited chan struct{}
}

func agentE2EStartAgent(t *testing.T, args ...string) *agentE2EAgent {
	t.Helper()
	return agentE2EStartAgentVia(t, nil, args...)
}

// agentE2EStartAgentVia starts `batchlet agent` through a wrapper command
// (e.g. `ip netns exec NAME`), or directly when wrapper is empty.
func agentE2EStartAgentVia(t *testing.T, wrapper []string, args ...string) *agentE2EAgent {
	t.Helper()
	a := &agentE2EAgent{joined: make(chan struct{}), exited: make(chan struct{})}
	argv := append(append(append([]string{}, wrapper...), batchletBin, "agent"), args...)
	a.cmd = exec.Command(argv[0], argv[1:]...)
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	a.cmd.Stderr = writerFunc(a.append)
	stdout, err := a.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatalf("starting batchlet agent: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		var once sync.Once
		for sc.Scan() {
			a.append([]byte(sc.Text() + "\n"))
			if strings.Contains(sc.Text(), " joined ") {
				once.Do(func() { close(a.joined) })
			}
		}
	}()
	go func() { _ = a.cmd.Wait(); close(a.exited) }()
	select {
	case <-a.joined:
	case <-a.exited:
		t.Fatalf("batchlet agent exited before joining:\n%s", a.output())
	case <-time.After(60 * time.Second):
		a.stop()
		t.Fatalf("batchlet agent did not join in 60s:\n%s", a.output())
	}
	return a
}

func (a *agentE2EAgent) append(p []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.log.Write(p)
}

func (a *agentE2EAgent) output() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.log.String()
}

// stop ends the agent with SIGTERM (SIGKILL after 10 s).
func (a *agentE2EAgent) stop() {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(10 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.exited
	}
}

// TestAgentSecondNode: a second `batchlet agent` on this machine joins the
// server over HTTPS with the join token; a Job's pods land on both nodes,
// and logs and exec reach the pods of the second one.
func TestAgentSecondNode(t *testing.T) {
	dataDir := t.TempDir()
	c, err := startCluster(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.stop()
	server := strings.TrimSpace(c.mustKubectl(t, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"))
	if !strings.HasPrefix(server, "https://") {
		t.Fatalf("server URL %q is not HTTPS", server)
	}
	agent := agentE2EStartAgent(t, "--server", server, "--token-file", filepath.Join(dataDir, "token"),
		"--node-name", "n2", "--data-dir", t.TempDir(), "--node-ip", "127.0.0.1", "--listen", "127.0.0.1:0")
	defer func() {
		agent.stop()
		if t.Failed() {
			t.Logf("agent output:\n%s", agent.output())
		}
	}()
	c.mustKubectl(t, "wait", "--for=condition=Ready", "--timeout=60s", "node/n2")

	c.mustKubectl(t, "create", "namespace", "spread")
	// Stop the Job's pods before the agent, which leaves containers
	// running when it stops.
	defer func() {
		if _, err := c.kubectl(t, "delete", "job", "spread", "-n", "spread", "--cascade=foreground", "--wait=true", "--timeout=90s"); err != nil {
			t.Logf("deleting job spread: %v", err)
		}
	}()
	agentE2EApply(t, c, "spread", agentE2ESpreadJob)
	byNode := map[string][]string{}
	eventually(t, 90*time.Second, "four running pods", func() (bool, string) {
		out, err := c.kubectl(t, "get", "pods", "-n", "spread", "-o",
			`jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase}{"\n"}{end}`)
		if err != nil {
			return false, err.Error()
		}
		byNode = map[string][]string{}
		running := 0
		for _, l := range agentE2ELines(out) {
			f := fieldsOf(l)
			if len(f) == 3 && f[2] == "Running" {
				running++
				byNode[f[1]] = append(byNode[f[1]], f[0])
			}
		}
		return running == 4, out
	})
	if len(byNode["n2"]) == 0 || len(byNode["e2e-node"]) == 0 {
		t.Fatalf("pods by node: %v; want pods on both e2e-node and n2", byNode)
	}
	pod := byNode["n2"][0]
	eventually(t, 30*time.Second, "the log of "+pod, func() (bool, string) {
		out, err := c.kubectl(t, "logs", "-n", "spread", pod)
		return err == nil && strings.TrimSpace(out) == "hello from "+pod, out
	})
	out, errOut, code := agentE2EKubectlCode(t, c, "", "exec", "-n", "spread", pod, "--", "sh", "-c", "echo exec in $HOSTNAME; exit 3")
	if code != 3 || strings.TrimSpace(out) != "exec in "+pod {
		t.Fatalf("exec through n2: code %d stdout %q stderr %q", code, out, errOut)
	}
	wide := c.mustKubectl(t, "get", "pod", pod, "-n", "spread", "-o", "wide", "--no-headers")
	if f := fieldsOf(wide); len(f) < 7 || f[6] != "n2" {
		t.Fatalf("kubectl get -o wide NODE column: %q", wide)
	}
}
