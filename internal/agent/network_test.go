package agent

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchlet/batchlet/internal/network"
)

// TestPodNetworkSharedByThePodsContainers: the init and the main
// container see the same eth0 with the address status.podIP reports,
// from the CIDR published on the Node; once the pod finished, its
// namespace and address are released.
func TestPodNetworkSharedByThePodsContainers(t *testing.T) {
	needRoot(t)
	h := startAgentMode(t, nil, "", nil, IsolationOn, func(c *Config) { c.PodNetwork.Mode = PodNetworkOn })
	removePodNetworksAtEnd(t, h)
	addr := "ip -4 -o addr show eth0 | tr -s ' ' | cut -d' ' -f4"
	pod := testPod("net", sh("main", "debian", "cat /shared/init; "+addr))
	pod.Spec.InitContainers = []corev1.Container{sh("init", "debian", addr+" > /shared/init")}
	pod.Spec.Volumes = []corev1.Volume{{Name: "shared", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	vm := []corev1.VolumeMount{{Name: "shared", MountPath: "/shared"}}
	pod.Spec.InitContainers[0].VolumeMounts, pod.Spec.Containers[0].VolumeMounts = vm, vm
	h.create(pod)
	done := h.waitPod("net", "Succeeded", phaseIs(corev1.PodSucceeded))

	pn := h.agent.podNet()
	if pn.manager == nil {
		t.Fatalf("no pod network: %s", pn.reason)
	}
	got := logWords(h.readLog(pod.UID, "main", 0))
	if len(got) != 2 || got[0] != got[1] {
		t.Fatalf("init and main container addresses = %q, want one shared address", got)
	}
	ip, _, err := net.ParseCIDR(got[0])
	if err != nil || !pn.manager.CIDR().Contains(ip) {
		t.Fatalf("eth0 address %q not in the pod CIDR %s", got[0], pn.manager.CIDR())
	}
	if done.Status.PodIP != ip.String() || done.Status.HostIP != "127.0.0.1" {
		t.Fatalf("status podIP %q hostIP %q, want %s and the node's", done.Status.PodIP, done.Status.HostIP, ip)
	}
	nsFile := filepath.Join(network.NamespaceDir(filepath.Join(h.dir, "network")), string(pod.UID))
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := os.Stat(nsFile)
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the finished pod's namespace %s is still there", nsFile)
		}
		h.clock.Step(podReleaseInterval)
		time.Sleep(10 * time.Millisecond)
	}
	node, err := h.client.CoreV1().Nodes().Get(context.Background(), "node1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node.Spec.PodCIDR != pn.manager.CIDR().String() || node.Annotations[AnnotationPodNetwork] != "namespaces" {
		t.Fatalf("node podCIDR %q annotations %v", node.Spec.PodCIDR, node.Annotations)
	}
}

// removePodNetworksAtEnd tears down every pod network of h's agent and
// its bridge when the test ends, before the agent stops.
func removePodNetworksAtEnd(t *testing.T, h *harness) {
	t.Cleanup(func() {
		if pn := h.agent.podNet(); pn.manager != nil {
			for _, k := range pn.manager.Keys() {
				_ = pn.manager.Teardown(k)
			}
			_ = pn.manager.Close()
		}
	})
}

// TestPodNetworkFollowsAnExplicitIsolationMode: an agent told to isolate
// does not change how its pods are reached unless asked to.
func TestPodNetworkFollowsAnExplicitIsolationMode(t *testing.T) {
	a := &Agent{cfg: Config{Isolation: IsolationOn}, isolate: true}
	if pn := a.podNet(); pn.manager != nil || !strings.Contains(pn.reason, "explicitly") {
		t.Fatalf("pod network %+v, want the host network", pn)
	}
}

// TestFinishedPodsGiveUpAddressesWhenTheCIDRRunsShort: finished pods keep
// their addresses for a grace period (the fake clock never ends it here),
// yet a new pod still starts when the CIDR has no address left.
func TestFinishedPodsGiveUpAddressesWhenTheCIDRRunsShort(t *testing.T) {
	needRoot(t)
	// A /29 has five addresses for pods after the gateway.
	h := startAgentMode(t, nil, "", nil, IsolationOn, func(c *Config) {
		c.PodNetwork = PodNetworkConfig{Mode: PodNetworkOn, CIDR: "10.244.250.0/29", Bridge: "bl-brtest29"}
	})
	removePodNetworksAtEnd(t, h)
	for i := 0; i < 8; i++ {
		name := "short-" + strconv.Itoa(i)
		h.create(testPod(name, sh("main", "debian", "true")))
		done := h.waitPod(name, "Succeeded", phaseIs(corev1.PodSucceeded))
		if done.Status.PodIP == "" || done.Status.PodIP == done.Status.HostIP {
			t.Fatalf("%s ran without an address of its own: podIP %q", name, done.Status.PodIP)
		}
	}
}

// TestStoppedAgentLeavesNoFinishedPodNetwork: once Run has returned, the
// network of a pod that finished moments before (still in its grace
// period) is gone, and nothing else of the node is left in the namespace
// directory.
func TestStoppedAgentLeavesNoFinishedPodNetwork(t *testing.T) {
	needRoot(t)
	h := startAgentMode(t, nil, "", nil, IsolationOn, func(c *Config) { c.PodNetwork.Mode = PodNetworkOn })
	pod := testPod("brief", sh("main", "debian", "true"))
	h.create(pod)
	h.waitPod("brief", "Succeeded", phaseIs(corev1.PodSucceeded))
	nsDir := network.NamespaceDir(filepath.Join(h.dir, "network"))
	if _, err := os.Stat(filepath.Join(nsDir, string(pod.UID))); err != nil {
		t.Fatalf("the finished pod's namespace is gone before its grace ended: %v", err)
	}
	h.stop()
	entries, err := os.ReadDir(nsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		if e.Name() != "owner" {
			left = append(left, e.Name())
		}
	}
	if len(left) > 0 {
		t.Fatalf("namespaces left after the agent stopped: %v", left)
	}
}

// TestPodDirGone: a pod's directory counts as gone when it is missing,
// and every pod's does when there is no pods' directory at all.
func TestPodDirGone(t *testing.T) {
	a := &Agent{cfg: Config{DataDir: t.TempDir()}}
	if !a.podDirGone("any") {
		t.Fatal("a pod counts as present without a pods' directory")
	}
	if err := os.MkdirAll(a.podDir("present"), 0o750); err != nil {
		t.Fatal(err)
	}
	if a.podDirGone("present") || !a.podDirGone("absent") {
		t.Fatalf("podDirGone(present) = %v, podDirGone(absent) = %v", a.podDirGone("present"), a.podDirGone("absent"))
	}
}
