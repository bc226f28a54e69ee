package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Requests assumed for scoring when a container sets none, so that
// best-effort pods still spread (kube-scheduler's non-zero defaults).
const (
	defaultMilliCPU = 100
	defaultMemory   = 200 * 1024 * 1024
)

// podRequests is what the pod asks for, for fit.
func podRequests(pod *corev1.Pod) resources {
	list := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	return resources{
		milliCPU: list.Cpu().MilliValue(),
		memory:   list.Memory().Value(),
		pods:     1,
	}
}

// scoringRequests replaces missing cpu/memory requests by the defaults.
func scoringRequests(req resources) resources {
	if req.milliCPU == 0 {
		req.milliCPU = defaultMilliCPU
	}
	if req.memory == 0 {
		req.memory = defaultMemory
	}
	return req
}

func nodeAllocatable(node *corev1.Node) resources {
	a := node.Status.Allocatable
	if a == nil {
		a = node.Status.Capacity
	}
	return resources{
		milliCPU: a.Cpu().MilliValue(),
		memory:   a.Memory().Value(),
		pods:     a.Pods().Value(),
	}
}
