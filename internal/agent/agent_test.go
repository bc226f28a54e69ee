package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestNodeRegistrationAndLease(t *testing.T) {
	h := startAgent(t, nil, "")
	node, err := h.client.CoreV1().Nodes().Get(context.Background(), "node1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node.Status.Capacity.Pods().Value() != 110 || node.Status.Capacity.Cpu().IsZero() || node.Status.Capacity.Memory().IsZero() {
		t.Fatalf("capacity = %v", node.Status.Capacity)
	}
	var ready bool
	for _, c := range node.Status.Conditions {
		ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue && c.Reason == "KubeletReady")
	}
	if !ready || node.Status.DaemonEndpoints.KubeletEndpoint.Port == 0 || node.Status.Addresses[0].Address != "127.0.0.1" {
		t.Fatalf("node status = %+v", node.Status)
	}
	lease, err := h.client.CoordinationV1().Leases("kube-node-lease").Get(context.Background(), "node1", metav1.GetOptions{})
	if err != nil || *lease.Spec.HolderIdentity != "node1" {
		t.Fatalf("lease = %v, %v", lease, err)
	}
}

func TestExitCodesAndReasons(t *testing.T) {
	h := startAgent(t, nil, "")
	tests := []struct {
		name   string
		script string
		phase  corev1.PodPhase
		code   int32
		reason string
	}{
		{"ok", "exit 0", corev1.PodSucceeded, 0, "Completed"},
		{"fail", "exit 3", corev1.PodFailed, 3, "Error"},
		{"killed", "kill -9 $$$$", corev1.PodFailed, 137, "Error"},
	}
	for _, tc := range tests {
		h.create(testPod(tc.name, sh("c", "debian", tc.script)))
	}
	for _, tc := range tests {
		p := h.waitPod(tc.name, string(tc.phase), phaseIs(tc.phase))
		term := p.Status.ContainerStatuses[0].State.Terminated
		if term == nil || term.ExitCode != tc.code || term.Reason != tc.reason || !strings.HasPrefix(term.ContainerID, "process://") {
			t.Errorf("%s: terminated = %+v", tc.name, term)
		}
		if p.Status.HostIP != "127.0.0.1" || p.Status.PodIP != "127.0.0.1" || p.Status.StartTime == nil {
			t.Errorf("%s: ips/startTime = %+v", tc.name, p.Status)
		}
	}
}

func TestBusyboxProfile(t *testing.T) {
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static not installed")
	}
	h := startAgent(t, nil, "")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "foo"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := corev1.Container{Name: "bb", Image: "docker.io/library/busybox:1.36",
		Args: []string{"-c", "[[ -r " + dir + "/foo ]] && echo readable; trap _term SIGTERM; echo trapped"}}
	c.Args = append([]string{"sh"}, c.Args...)
	pod := testPod("bb", c)
	h.create(pod)
	h.waitPod("bb", "Succeeded", phaseIs(corev1.PodSucceeded))
	if got := h.readLog(pod.UID, "bb", 0); !strings.Contains(got, "stdout F readable") || !strings.Contains(got, "trapped") {
		t.Fatalf("log = %q", got)
	}
}

func TestNoCommandNoProfile(t *testing.T) {
	h := startAgent(t, nil, "")
	h.create(testPod("np", corev1.Container{Name: "c", Image: "example.com/unknown:1"}))
	p := h.waitPod("np", "CreateContainerConfigError", func(p *corev1.Pod) bool {
		return p != nil && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
			p.Status.ContainerStatuses[0].State.Waiting.Reason == "CreateContainerConfigError"
	})
	if msg := p.Status.ContainerStatuses[0].State.Waiting.Message; !strings.Contains(msg, "image profiles file") {
		t.Fatalf("message = %q", msg)
	}
	if p.Status.Phase != corev1.PodPending {
		t.Fatalf("phase = %s", p.Status.Phase)
	}
}

func TestEnvFromEverySource(t *testing.T) {
	optional := true
	client := fake.NewClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "default"}, Data: map[string]string{"color": "blue", "size": "L", "bad-key": "x"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sec", Namespace: "default"}, Data: map[string][]byte{"password": []byte("s3cret")}},
	)
	h := startAgent(t, client, "")
	c := sh("c", "debian", "env | sort; echo argv=$1")
	c.Command = append(c.Command, "x", "$(COLOR)-$(MISSING)-$$(COLOR)")
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}
	c.EnvFrom = []corev1.EnvFromSource{{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}}
	c.Env = []corev1.EnvVar{
		{Name: "PLAIN", Value: "v"},
		{Name: "EXPANDED", Value: "$(PLAIN)-x"},
		{Name: "COLOR", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Key: "color"}}},
		{Name: "PASS", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "password"}}},
		{Name: "OPT", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k", Optional: &optional}}},
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "POD_UID", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.uid"}}},
		{Name: "NOTE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['note']"}}},
		{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
		{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
		{Name: "HOST_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
		{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
	}
	pod := testPod("env", c)
	h.create(pod)
	h.waitPod("env", "Succeeded", phaseIs(corev1.PodSucceeded))
	got := h.readLog(pod.UID, "c", 0)
	for _, want := range []string{"PLAIN=v", "EXPANDED=v-x", "COLOR=blue", "PASS=s3cret", "POD_NAME=env", "POD_UID=env-uid",
		"NOTE=hi", "APP=demo", "NODE=node1", "HOST_IP=127.0.0.1", "MEM=64", "CM_color=blue", "CM_size=L", "HOSTNAME=env",
		"argv=blue-$(MISSING)-$(COLOR)"} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("env lacks %q; log:\n%s", want, got)
		}
	}
	if strings.Contains(got, "OPT=") || strings.Contains(got, "bad-key") {
		t.Errorf("unexpected env in log:\n%s", got)
	}
}
