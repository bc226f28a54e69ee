package agent

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/batchlet/batchlet/internal/runtime/sandbox"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("isolation needs root (mount, UTS and PID namespaces)")
	}
}

// TestIsolatedPod runs the Indexed Job tutorial's shape: an init container
// fills an emptyDir at a path that must exist only for the pod, the main
// container reads it there, sees its own hostname, is PID 1 and reads a
// ConfigMap volume.
func TestIsolatedPod(t *testing.T) {
	needRoot(t)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default"}, Data: map[string]string{"greeting": "hello"}}
	h := startAgentMode(t, fake.NewClientset(cm), "", nil, IsolationOn)
	mnt := "/batchlet-isolation-test-input"
	pod := testPod("iso", sh("main", "debian", "cat "+mnt+"/data.txt; hostname; echo pid=$$$$; cat /cfg/greeting; echo; grep -c iso-host /etc/hosts"))
	pod.Spec.Hostname, pod.Spec.Subdomain = "iso-host", "sub"
	pod.Spec.InitContainers = []corev1.Container{sh("init", "debian", "echo from-init > "+mnt+"/data.txt")}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "input", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
	}
	vm := []corev1.VolumeMount{{Name: "input", MountPath: mnt}}
	pod.Spec.InitContainers[0].VolumeMounts = vm
	pod.Spec.Containers[0].VolumeMounts = append(vm, corev1.VolumeMount{Name: "cfg", MountPath: "/cfg", ReadOnly: true})
	h.create(pod)
	h.waitPod("iso", "Succeeded", phaseIs(corev1.PodSucceeded))
	got := logWords(h.readLog(pod.UID, "main", 0))
	want := []string{"from-init", "iso-host", "pid=1", "hello", "1"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("log = %q, want %q", got, want)
	}
	if _, err := os.Stat(mnt); !os.IsNotExist(err) {
		t.Fatalf("%s leaked onto the host: %v", mnt, err)
	}
}

// TestPrivateTmp: what a container writes to /tmp stays in that container
// attempt: the host's /tmp does not see it, nor does the next attempt.
func TestPrivateTmp(t *testing.T) {
	needRoot(t)
	// A data dir under /tmp keeps the host's /tmp visible; use another.
	dir, err := os.MkdirTemp("/var/tmp", "batchlet-agent-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	h := startAgentMode(t, nil, dir, nil, IsolationOn)
	marker := "batchlet-private-tmp-" + strings.ReplaceAll(t.Name(), "/", "-")
	pod := testPod("tmpuser", sh("c", "debian", "if [ -e /tmp/"+marker+" ]; then echo seen; exit 0; fi; touch /tmp/"+marker+"; echo fresh; exit 1"))
	pod.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	h.create(pod)
	h.waitPod("tmpuser", "restarted", func(p *corev1.Pod) bool {
		return p != nil && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	if _, err := os.Stat("/tmp/" + marker); !os.IsNotExist(err) {
		os.Remove("/tmp/" + marker)
		t.Fatalf("/tmp/%s reached the host: %v", marker, err)
	}
	for n := 0; n < 2; n++ {
		var got string
		deadline := time.Now().Add(10 * time.Second)
		for got == "" && time.Now().Before(deadline) {
			got = strings.Join(logWords(h.readLog(pod.UID, "c", n)), " ")
			if got == "" {
				time.Sleep(10 * time.Millisecond)
			}
		}
		if got != "fresh" {
			t.Fatalf("attempt %d log = %q, want fresh (a /tmp of its own)", n, got)
		}
		// Each attempt's /tmp is a directory of the pod's, as /tmp is.
		tmp := filepath.Join(h.agent.podDir(pod.UID), "tmp.c-"+strconv.Itoa(n))
		if _, err := os.Stat(filepath.Join(tmp, marker)); err != nil {
			t.Fatalf("attempt %d: its /tmp is not in the pod's directory: %v", n, err)
		}
		if fi, err := os.Stat(tmp); err != nil || fi.Mode()&(os.ModeSticky|os.ModePerm) != os.ModeSticky|0o777 {
			t.Fatalf("attempt %d: /tmp %v (%v), want sticky and 0777", n, fi, err)
		}
	}
}

// TestPIDOneIgnoresSIGTERM: a bare sleep as PID 1 has no handler, ignores
// SIGTERM and is killed at the end of the grace period.
func TestPIDOneIgnoresSIGTERM(t *testing.T) {
	needRoot(t)
	h := startAgentMode(t, nil, "", nil, IsolationOn)
	pod := testPod("sleeper", corev1.Container{Name: "c", Image: "debian", Command: []string{"sleep", "600"}})
	h.create(pod)
	h.waitPod("sleeper", "running", running)
	h.deleteGracefully("sleeper", 1)
	waitEvent(t, h, "Killing")
	h.clock.Step(2e9)
	p := h.waitPod("sleeper", "terminated", func(p *corev1.Pod) bool {
		return p == nil || (len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Terminated != nil)
	})
	if p != nil {
		if term := p.Status.ContainerStatuses[0].State.Terminated; term.ExitCode != 137 {
			t.Fatalf("terminated = %+v, want exit 137", term)
		}
	}
}

func TestOOMKilled(t *testing.T) {
	needRoot(t)
	h := startAgentMode(t, nil, "", nil, IsolationOn)
	if !h.agent.cgroups.Capabilities().Memory {
		t.Skip("no memory cgroup controller")
	}
	c := sh("c", "debian", "head -c 209715200 /dev/zero | tail > /dev/null")
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("50Mi")}
	h.create(testPod("hog", c))
	p := h.waitPod("hog", "Failed", phaseIs(corev1.PodFailed))
	term := p.Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.ExitCode != 137 || term.Reason != "OOMKilled" {
		t.Fatalf("terminated = %+v, want OOMKilled 137", term)
	}
}

// TestUnsupportedWithoutIsolation: a pod that mounts a volume cannot run
// as a plain host process and fails with a reason and an event.
func TestUnsupportedWithoutIsolation(t *testing.T) {
	h := startAgentMode(t, nil, "", nil, IsolationOff)
	pod := testPod("novol", sh("c", "debian", "true"))
	pod.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "v", MountPath: "/v"}}
	h.create(pod)
	p := h.waitPod("novol", "Failed", phaseIs(corev1.PodFailed))
	if p.Status.Reason != sandbox.ReasonUnsupported || !strings.Contains(p.Status.Message, "spec.containers[0].volumeMounts") {
		t.Fatalf("status reason %q message %q", p.Status.Reason, p.Status.Message)
	}
	// Events are recorded asynchronously: wait for it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, err := h.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			if e.Reason == sandbox.ReasonUnsupported && e.Type == corev1.EventTypeWarning {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event among %d events", sandbox.ReasonUnsupported, len(evs.Items))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logWords is the words of a CRI-format log's messages.
func logWords(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if f := strings.SplitN(line, " ", 4); len(f) == 4 {
			out = append(out, strings.Fields(f[3])...)
		}
	}
	return out
}

func waitEvent(t *testing.T, h *harness, reason string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		evs, err := h.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
		if err == nil {
			for _, e := range evs.Items {
				if e.Reason == reason {
					return
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %s event", reason)
}

// TestHostnameUnsupportedWithoutIsolation: a pod that sets its hostname
// (as Indexed Job pods do) fails clearly on a node that cannot give it one,
// instead of running with the node's name.
func TestHostnameUnsupportedWithoutIsolation(t *testing.T) {
	h := startAgentMode(t, nil, "", nil, IsolationOff)
	pod := testPod("named", sh("c", "debian", "hostname"))
	pod.Spec.Hostname = "job-0"
	h.create(pod)
	p := h.waitPod("named", "Failed", phaseIs(corev1.PodFailed))
	if p.Status.Reason != sandbox.ReasonUnsupported || !strings.Contains(p.Status.Message, "spec.hostname") {
		t.Fatalf("status reason %q message %q", p.Status.Reason, p.Status.Message)
	}
	waitEvent(t, h, sandbox.ReasonUnsupported)
}
