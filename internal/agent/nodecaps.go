package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Annotations on the Node saying what this node can enforce, so that a
// user (`kubectl describe node`) and tools see it without reading logs.
const (
	// AnnotationCgroupMode is "v2", "v1", "hybrid" or "none".
	AnnotationCgroupMode = "batchlet.io/cgroup-mode"
	// AnnotationCgroupControllers lists the enforced cgroup controllers,
	// comma-separated (memory, cpu, pids); empty when none is.
	AnnotationCgroupControllers = "batchlet.io/enforced-cgroup-controllers"
	// AnnotationIsolation is "namespaces" when pods get their own mount,
	// UTS and PID namespaces, "none" when they run as host processes.
	AnnotationIsolation = "batchlet.io/isolation"
)

// capabilityAnnotations are the Node annotations for what was detected at
// start.
func (a *Agent) capabilityAnnotations() map[string]string {
	caps := a.cgroups.Capabilities()
	isolation := "none"
	if a.isolate {
		isolation = "namespaces"
	}
	return map[string]string{
		AnnotationCgroupMode:        caps.Mode,
		AnnotationCgroupControllers: strings.Join(caps.Enforced(), ","),
		AnnotationIsolation:         isolation,
	}
}

// annotateNode records the detected capabilities on the Node, replacing
// what an earlier start of the agent wrote.
func (a *Agent) annotateNode(ctx context.Context) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": a.capabilityAnnotations()}})
	if err != nil {
		return fmt.Errorf("node annotations: %w", err)
	}
	if _, err := a.client.CoreV1().Nodes().Patch(ctx, a.cfg.NodeName, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("annotating node %s: %w", a.cfg.NodeName, err)
	}
	return nil
}
