package agent

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// TestContainerCapabilities: each container gets the capabilities its
// securityContext asks for, as under containerd: one that drops ALL has
// none, one that says nothing has the runtime's default set, and unknown
// names are ignored.
func TestContainerCapabilities(t *testing.T) {
	needRoot(t)
	h := startAgentMode(t, nil, "", nil, IsolationOn)
	const script = "grep ^CapEff /proc/$$$$/status"
	none := sh("none", "debian", script)
	none.SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	pod := testPod("caps", none, sh("default", "debian", script))
	h.create(pod)
	h.waitPod("caps", "Succeeded", phaseIs(corev1.PodSucceeded))
	for name, want := range map[string]string{"none": "0000000000000000", "default": "00000000a80425fb"} {
		if got := logWords(h.readLog(pod.UID, name, 0)); strings.Join(got, " ") != "CapEff: "+want {
			t.Errorf("%s: log = %q, want CapEff %s", name, got, want)
		}
	}

	// Unknown names change nothing, as under containerd and runc: the
	// container runs with the default set, less what it could drop.
	typo := sh("typo", "debian", script)
	typo.SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{
		Drop: []corev1.Capability{"NET_RAWW", "CAP_KILL", "SETUID"}}}
	typoPod := testPod("typo", typo)
	h.create(typoPod)
	h.waitPod("typo", "Succeeded", phaseIs(corev1.PodSucceeded))
	if got := logWords(h.readLog(typoPod.UID, "typo", 0)); strings.Join(got, " ") != "CapEff: 00000000a804257b" {
		t.Errorf("typo: log = %q, want the default set without SETUID", got)
	}
}

// TestNetworkConfinement: a pod's namespace is parked without a look
// inside only while none of its processes could have changed it: a
// container granted NET_ADMIN or SYS_ADMIN rules that out; an exec
// session (here an exec probe) gets its container's capabilities and
// does not.
func TestNetworkConfinement(t *testing.T) {
	needRoot(t)
	h := startAgentMode(t, nil, "", nil, IsolationOn)
	withCaps := func(name string, add ...corev1.Capability) corev1.Container {
		c := sh(name, "debian", "true")
		c.SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: add}}
		return c
	}
	// The container ends only once the probe has run in it.
	probed := sh("probed", "debian", "while [ ! -e /tmp/probed ]; do sleep 0.05; done")
	probed.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
		Command: []string{"touch", "/tmp/probed"}}}, PeriodSeconds: 1}
	privileged := sh("privileged", "debian", "true")
	privileged.SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
	for _, tc := range []struct {
		pod      *corev1.Pod
		confined bool
	}{
		{testPod("plain", sh("a", "debian", "true"), sh("b", "debian", "true")), true},
		{testPod("kill", withCaps("c", "KILL", "NET_BIND_SERVICE")), true},
		{testPod("net-admin", sh("a", "debian", "true"), withCaps("c", "NET_ADMIN")), false},
		{testPod("sys-admin", withCaps("c", "SYS_ADMIN")), false},
		{testPod("all", withCaps("c", "ALL")), false},
		{testPod("privileged", privileged), false},
		{testPod("exec-probe", probed), true},
	} {
		h.create(tc.pod)
		h.waitPod(tc.pod.Name, "Succeeded", phaseIs(corev1.PodSucceeded))
		w := h.agent.worker(tc.pod.UID)
		if w == nil {
			t.Fatalf("%s: no worker", tc.pod.Name)
		}
		if confined := !w.netUnconfined.Load(); confined != tc.confined {
			t.Errorf("%s: confined = %v, want %v", tc.pod.Name, confined, tc.confined)
		}
	}
}
