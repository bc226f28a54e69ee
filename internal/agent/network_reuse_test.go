package agent

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestFinishedPodsNamespaceServesTheNextPod: the node keeps namespaces
// built ahead; once a finished pod's grace is over its namespace is
// parked too, and the next pod's containers run in that very namespace
// with its address; a pod granted NET_ADMIN takes a parked one but leaves
// none behind.
func TestFinishedPodsNamespaceServesTheNextPod(t *testing.T) {
	needRoot(t)
	h := startAgentMode(t, nil, "", nil, IsolationOn, func(c *Config) { c.PodNetwork.Mode = PodNetworkOn })
	removePodNetworksAtEnd(t, h)
	pn := h.agent.podNet()
	if pn.manager == nil {
		t.Fatalf("no pod network: %s", pn.reason)
	}
	m := pn.manager
	// run starts a pod printing its network namespace and waits for it
	// to finish.
	run := func(name string, sc *corev1.SecurityContext) (*corev1.Pod, string) {
		t.Helper()
		pod := testPod(name, sh("main", "debian", "readlink /proc/self/ns/net"))
		pod.Spec.Containers[0].SecurityContext = sc
		h.create(pod)
		done := h.waitPod(name, "Succeeded", phaseIs(corev1.PodSucceeded))
		return done, strings.Join(logWords(h.readLog(done.UID, "main", 0)), " ")
	}
	// released steps the agent's clock past the grace of finished pods
	// until uid's network is gone.
	released := func(uid string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for slices.Contains(m.Keys(), uid) {
			if time.Now().After(deadline) {
				t.Fatalf("the network of finished pod %s is still held", uid)
			}
			h.clock.Step(podReleaseInterval)
			time.Sleep(10 * time.Millisecond)
		}
	}

	// parked waits for the pool to settle at want: podNetworksKeptWarm
	// namespaces are built ahead in the background besides parked ones.
	parked := func(what string, want int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for m.Parked() != want {
			if time.Now().After(deadline) {
				t.Fatalf("Parked() = %d %s, want %d", m.Parked(), what, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	warm := podNetworksKeptWarm
	parked("at start", warm)

	first, firstNS := run("first", nil)
	released(string(first.UID))
	parked("after the first pod", warm+1)
	second, secondNS := run("second", nil)
	if !strings.HasPrefix(firstNS, "net:[") || secondNS != firstNS {
		t.Fatalf("namespaces %q then %q, want the first reused", firstNS, secondNS)
	}
	if second.Status.PodIP != first.Status.PodIP {
		t.Fatalf("second pod's address %s, want the reused %s", second.Status.PodIP, first.Status.PodIP)
	}
	released(string(second.UID))
	parked("after the second pod", warm+1)

	netAdmin := &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}}}
	third, thirdNS := run("third", netAdmin)
	if thirdNS != firstNS {
		t.Fatalf("third pod in %q, want the parked %q taken", thirdNS, firstNS)
	}
	parked("with the third pod running", warm)
	released(string(third.UID))
	// Nothing to build: the pool still holds the warm ones.
	if m.Parked() != warm {
		t.Fatalf("Parked() = %d: the namespace of a pod granted NET_ADMIN was parked", m.Parked())
	}
}

// TestPodNetworkShareableRefusesSysctlsAndNetworkPrivileges: what a pod
// may have changed in its namespace decides whether another pod gets it.
func TestPodNetworkShareableRefusesSysctlsAndNetworkPrivileges(t *testing.T) {
	yes := true
	caps := func(c ...corev1.Capability) *corev1.SecurityContext {
		return &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: c}}
	}
	cases := []struct {
		name string
		edit func(*corev1.Pod)
		want bool
	}{
		{"plain", func(*corev1.Pod) {}, true},
		{"harmless capability", func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext = caps("CHOWN") }, true},
		{"sysctls", func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "net.ipv4.ip_local_port_range", Value: "1024 65000"}}}
		}, false},
		{"privileged", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: &yes}
		}, false},
		{"NET_ADMIN", func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext = caps("NET_ADMIN") }, false},
		{"CAP_NET_RAW in an init container", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", SecurityContext: caps("CAP_NET_RAW")}}
		}, false},
		{"ALL in an ephemeral container", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", SecurityContext: caps("all")}}}
		}, false},
	}
	for _, c := range cases {
		pod := testPod("p", sh("main", "debian", "true"))
		c.edit(pod)
		if got := podNetworkShareable(pod); got != c.want {
			t.Errorf("%s: podNetworkShareable = %v, want %v", c.name, got, c.want)
		}
	}
}
