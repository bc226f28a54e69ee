package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// Reasons a node is filtered out, worded as kube-scheduler words them.
const (
	reasonUnschedulable = "node(s) were unschedulable"
	reasonAffinity      = "node(s) didn't match Pod's node affinity/selector"
	reasonTooManyPods   = "Too many pods"
)

// notReadyTaint stands for a node that is not Ready: kube-scheduler sees
// the taint the node lifecycle controller puts on such nodes.
var notReadyTaint = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}

var unschedulableTaint = corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}

// resources is the part of a pod or node capacity that is checked.
type resources struct {
	milliCPU int64
	memory   int64
	pods     int64
}

func (r resources) add(o resources) resources {
	return resources{r.milliCPU + o.milliCPU, r.memory + o.memory, r.pods + o.pods}
}

func (r resources) sub(o resources) resources {
	return resources{r.milliCPU - o.milliCPU, r.memory - o.memory, r.pods - o.pods}
}

// nodeInfo is a node with what its pods already request.
type nodeInfo struct {
	node        *corev1.Node
	allocatable resources
	requested   resources
	// nonZeroRequested counts best-effort pods at the scoring defaults, so
	// that they spread instead of piling onto one node.
	nonZeroRequested resources
}

// filter returns the reasons the node cannot take the pod (nil: it fits).
// Checks run in kube-scheduler's plugin order and stop at the first
// failing one, except resource fit, which reports every shortage.
func filter(pod *corev1.Pod, req resources, n *nodeInfo, aff nodeaffinity.RequiredNodeAffinity) []string {
	node := n.node
	if node.Spec.Unschedulable && !corev1helpers.TolerationsTolerateTaint(pod.Spec.Tolerations, &unschedulableTaint) {
		return []string{reasonUnschedulable}
	}
	if !nodeReady(node) && !corev1helpers.TolerationsTolerateTaint(pod.Spec.Tolerations, &notReadyTaint) {
		return []string{taintReason(notReadyTaint)}
	}
	taint, untolerated := corev1helpers.FindMatchingUntoleratedTaint(node.Spec.Taints, pod.Spec.Tolerations, func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
	})
	if untolerated {
		return []string{taintReason(taint)}
	}
	if ok, err := aff.Match(node); err != nil || !ok {
		return []string{reasonAffinity}
	}
	return fit(req, n)
}

func taintReason(t corev1.Taint) string {
	return "node(s) had untolerated taint {" + t.Key + ": " + t.Value + "}"
}

func fit(req resources, n *nodeInfo) []string {
	var out []string
	free := n.allocatable.sub(n.requested)
	if free.pods < 1 {
		out = append(out, reasonTooManyPods)
	}
	if req.milliCPU > 0 && req.milliCPU > free.milliCPU {
		out = append(out, "Insufficient cpu")
	}
	if req.memory > 0 && req.memory > free.memory {
		out = append(out, "Insufficient memory")
	}
	return out
}

func nodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// score is the least-allocated score in [0, 100]: the mean free fraction
// of cpu and memory once the pod is placed.
func score(req resources, n *nodeInfo) int64 {
	after := n.nonZeroRequested.add(req)
	return (freeShare(after.milliCPU, n.allocatable.milliCPU) + freeShare(after.memory, n.allocatable.memory)) / 2
}

func freeShare(used, capacity int64) int64 {
	if capacity <= 0 || used >= capacity {
		return 0
	}
	return (capacity - used) * 100 / capacity
}
