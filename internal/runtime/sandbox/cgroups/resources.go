package cgroups

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchlet/batchlet/internal/runtime/sandbox"
)

// Resources are the limits of one group; zero means unlimited (or, for
// the CPU request, the minimum weight).
type Resources struct {
	MemoryLimit     int64 // bytes
	CPULimitMilli   int64
	CPURequestMilli int64
	PidsLimit       int64
}

// ContainerResources are a container's limits and requests. A CPU
// request defaults to the CPU limit, as the API server defaults it.
func ContainerResources(c *corev1.Container) Resources {
	var r Resources
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		r.MemoryLimit = q.Value()
	}
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		r.CPULimitMilli = q.MilliValue()
	}
	if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
		r.CPURequestMilli = q.MilliValue()
	} else {
		r.CPURequestMilli = r.CPULimitMilli
	}
	return r
}

// PodResources are the limits of a pod's group, as kubelet computes them:
// a limit applies only when every container sets it, and is the larger of
// the sum over app containers and the largest init container's.
func PodResources(pod *corev1.Pod) Resources {
	var r Resources
	memAll, cpuAll := true, true
	for i := range pod.Spec.Containers {
		c := ContainerResources(&pod.Spec.Containers[i])
		memAll = memAll && c.MemoryLimit > 0
		cpuAll = cpuAll && c.CPULimitMilli > 0
		r.MemoryLimit += c.MemoryLimit
		r.CPULimitMilli += c.CPULimitMilli
		r.CPURequestMilli += c.CPURequestMilli
	}
	for i := range pod.Spec.InitContainers {
		c := ContainerResources(&pod.Spec.InitContainers[i])
		memAll = memAll && c.MemoryLimit > 0
		cpuAll = cpuAll && c.CPULimitMilli > 0
		r.MemoryLimit = max(r.MemoryLimit, c.MemoryLimit)
		r.CPULimitMilli = max(r.CPULimitMilli, c.CPULimitMilli)
		r.CPURequestMilli = max(r.CPURequestMilli, c.CPURequestMilli)
	}
	if !memAll {
		r.MemoryLimit = 0
	}
	if !cpuAll {
		r.CPULimitMilli = 0
	}
	return r
}

// Check says which of a container's limits this node cannot enforce, as
// a *sandbox.UnsupportedError naming the field. Requests need no
// controller to be honoured by the scheduler and are not checked.
func (m *Manager) Check(field string, r Resources) error {
	switch {
	case r.MemoryLimit > 0 && !m.caps.Memory:
		return m.unsupported(field+".resources.limits.memory", Memory)
	case r.CPULimitMilli > 0 && !m.caps.CPU:
		return m.unsupported(field+".resources.limits.cpu", CPU)
	case r.PidsLimit > 0 && !m.caps.Pids:
		return m.unsupported(field, Pids)
	}
	return nil
}

func (m *Manager) unsupported(field, ctrl string) error {
	why := "the node offers no " + ctrl + " cgroup controller"
	if m.caps.Mode == "none" {
		why = "the node cannot use cgroups (requires root and a mounted cgroup hierarchy)"
	}
	return &sandbox.UnsupportedError{Field: field, Message: fmt.Sprintf("cannot enforce the %s limit: %s", ctrl, why)}
}
