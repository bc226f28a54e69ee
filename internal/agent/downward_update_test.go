package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestDownwardAPIVolumeFollowsLabels: a running container sees its
// downwardAPI volume change when the pod's labels and annotations do, and
// the change arrives through the ..data link swap.
func TestDownwardAPIVolumeFollowsLabels(t *testing.T) {
	needRoot(t)
	h := startAgentMode(t, nil, "", nil, IsolationOn)
	pod := testPod("dapi", sh("main", "debian",
		"while ! grep -q tier /info/labels; do sleep 0.05; done; cat /info/labels; echo; cat /info/note; echo; readlink /info/..data >/dev/null && echo linked"))
	pod.Spec.Volumes = []corev1.Volume{{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
		Items: []corev1.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
			{Path: "note", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['note']"}},
		}}}}}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "info", MountPath: "/info", ReadOnly: true}}
	h.create(pod)
	h.waitPod("dapi", "running", running)
	vol := filepath.Join(h.agent.podDir(pod.UID), "sandbox", "volumes", "info", "labels")
	if data, err := os.ReadFile(vol); err != nil || strings.Contains(string(data), "tier") {
		t.Fatalf("initial labels file %q, %v", data, err)
	}

	p, err := h.client.CoreV1().Pods("default").Get(context.Background(), "dapi", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Labels["tier"] = "gold"
	p.Annotations["note"] = "changed"
	if _, err := h.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitPod("dapi", "Succeeded", phaseIs(corev1.PodSucceeded))
	got := strings.Join(logWords(h.readLog(pod.UID, "main", 0)), " ")
	if want := `app="demo" tier="gold" changed linked`; got != want {
		t.Fatalf("container saw %q, want %q", got, want)
	}
}
