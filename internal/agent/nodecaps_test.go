package agent

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestNodeReportsEnforcement: the Node says which cgroup controllers the
// agent enforces and whether pods are isolated.
func TestNodeReportsEnforcement(t *testing.T) {
	h := startAgent(t, nil, "")
	node, err := h.client.CoreV1().Nodes().Get(context.Background(), "node1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	caps := h.agent.cgroups.Capabilities()
	want := map[string]string{
		AnnotationCgroupMode:        caps.Mode,
		AnnotationCgroupControllers: strings.Join(caps.Enforced(), ","),
		AnnotationIsolation:         "none", // the harness runs host processes
	}
	for k, v := range want {
		got, ok := node.Annotations[k]
		if !ok || got != v {
			t.Errorf("annotation %s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	if caps.Mode == "" {
		t.Error("cgroup mode not detected")
	}
}
