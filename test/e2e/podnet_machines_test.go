package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// podnetWebPod is a pod pinned to node that serves "from-<name>" over
// HTTP on port 8080.
func podnetWebPod(name, node string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: web-%[1]s
spec:
  nodeName: %[2]s
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: busybox
    command: ["sh", "-c", "echo from-%[1]s > /www/index.html && exec httpd -f -p 8080 -h /www"]
    volumeMounts:
    - name: www
      mountPath: /www
  volumes:
  - name: www
    emptyDir: {}
`, name, node)
}

// podnetMachine is a network namespace standing in for a second machine,
// cabled to this one by a veth pair on a /24 of its own.
type podnetMachine struct {
	name, hostIP, peerIP string
	// hostPods and peerPods are the two nodes' pod CIDRs: picked here,
	// as other clusters' nodes on this host hold the automatic ones.
	hostPods, peerPods string
}

func podnetNewMachine(t *testing.T) *podnetMachine {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2 not installed")
	}
	// A subnet unlikely to be in use, varied per run so that a leftover
	// from a killed run does not collide.
	octet := 100 + os.Getpid()%100
	m := &podnetMachine{
		name:     fmt.Sprintf("bl-e2e-m%d", os.Getpid()),
		hostIP:   fmt.Sprintf("10.213.%d.1", octet),
		peerIP:   fmt.Sprintf("10.213.%d.2", octet),
		hostPods: fmt.Sprintf("10.214.%d.0/24", octet),
		peerPods: fmt.Sprintf("10.215.%d.0/24", octet),
	}
	link := fmt.Sprintf("ble2e%d", os.Getpid()%100000)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", m.name)
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", link).Run()
		_ = exec.Command("ip", "netns", "del", m.name).Run()
	})
	run("link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", m.name)
	run("addr", "add", m.hostIP+"/24", "dev", link)
	run("link", "set", link, "up")
	run("-n", m.name, "addr", "add", m.peerIP+"/24", "dev", "eth0")
	run("-n", m.name, "link", "set", "eth0", "up")
	run("-n", m.name, "link", "set", "lo", "up")
	return m
}

// TestPodNetworkAcrossMachines: a node on a second machine joins; each
// node routes the other's pod CIDR through the other's address, so that a
// pod on either node reaches a pod on the other by its pod IP.
func TestPodNetworkAcrossMachines(t *testing.T) {
	m := podnetNewMachine(t)
	dataDir := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	c, err := startClusterOn(dataDir, port, "--listen="+fmt.Sprintf("%s:%d", m.hostIP, port), "--agent-listen="+m.hostIP+":0", "--pod-cidr="+m.hostPods)
	if err != nil {
		t.Fatal(err)
	}
	defer c.stop()
	agent := agentE2EStartAgentVia(t, []string{"ip", "netns", "exec", m.name},
		"--server", fmt.Sprintf("https://%s:%d", m.hostIP, port), "--token-file", filepath.Join(dataDir, "token"),
		"--node-name", "n2", "--data-dir", t.TempDir(), "--node-ip", m.peerIP, "--listen", m.peerIP+":0", "--pod-cidr", m.peerPods)
	defer func() {
		agent.stop()
		if t.Failed() {
			t.Logf("agent output:\n%s", agent.output())
			t.Logf("server log:\n%s", c.logTail(60))
		}
	}()
	c.mustKubectl(t, "wait", "--for=condition=Ready", "--timeout=60s", "node/n2")
	for _, node := range []string{"e2e-node", "n2"} {
		mode := c.mustKubectl(t, "get", "node", node, "-o", `jsonpath={.metadata.annotations.batchlet\.io/pod-network}`)
		if strings.TrimSpace(mode) != "namespaces" {
			t.Skipf("node %s keeps pods in the host network (%q)", node, mode)
		}
	}

	defer func() { _, _ = c.kubectl(t, "delete", "pod", "web-a", "web-b", "--wait=true", "--timeout=60s") }()
	c.kubectlInOrFail(t, podnetWebPod("a", "e2e-node")+"---\n"+podnetWebPod("b", "n2"), "apply", "-f", "-")
	c.mustKubectl(t, "wait", "--for=condition=Ready", "--timeout=60s", "pod/web-a", "pod/web-b")
	ipA := strings.TrimSpace(c.mustKubectl(t, "get", "pod", "web-a", "-o", "jsonpath={.status.podIP}"))
	ipB := strings.TrimSpace(c.mustKubectl(t, "get", "pod", "web-b", "-o", "jsonpath={.status.podIP}"))
	cidrB := strings.TrimSpace(c.mustKubectl(t, "get", "node", "n2", "-o", "jsonpath={.spec.podCIDR}"))

	// This machine routes n2's pod CIDR through n2's address.
	eventually(t, 30*time.Second, "a route to n2's pods", func() (bool, string) {
		out, err := exec.Command("ip", "route", "show", cidrB).CombinedOutput()
		return err == nil && strings.Contains(string(out), "via "+m.peerIP), string(out)
	})
	fetch := func(from, ip string) (bool, string) {
		out, err := c.kubectl(t, "exec", from, "--", "sh", "-c",
			fmt.Sprintf(`printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 %s 8080`, ip))
		if err != nil {
			return false, err.Error()
		}
		return true, out
	}
	eventually(t, 30*time.Second, "web-a fetching web-b's page", func() (bool, string) {
		ok, out := fetch("web-a", ipB)
		return ok && strings.Contains(out, "from-b"), out
	})
	eventually(t, 30*time.Second, "web-b fetching web-a's page", func() (bool, string) {
		ok, out := fetch("web-b", ipA)
		return ok && strings.Contains(out, "from-a"), out
	})
}
