package podgc

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// isTerminated reports whether the pod reached a terminal phase.
func isTerminated(p *corev1.Pod) bool {
	switch p.Status.Phase {
	case corev1.PodPending, corev1.PodRunning, corev1.PodUnknown:
		return false
	}
	return true
}

func isEvicted(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodFailed && p.Status.Reason == "Evicted"
}

// terminatedOverThreshold returns the terminated pods to delete so that at
// most threshold remain: evicted pods first, then the oldest. A threshold
// <= 0 disables this collection.
func terminatedOverThreshold(pods []*corev1.Pod, threshold int) []*corev1.Pod {
	if threshold <= 0 {
		return nil
	}
	var terminated []*corev1.Pod
	for _, p := range pods {
		if isTerminated(p) {
			terminated = append(terminated, p)
		}
	}
	excess := len(terminated) - threshold
	if excess <= 0 {
		return nil
	}
	sort.SliceStable(terminated, func(i, j int) bool {
		a, b := terminated[i], terminated[j]
		if ea, eb := isEvicted(a), isEvicted(b); ea != eb {
			return ea
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	return terminated[:excess]
}

// boundToMissingNodes returns the pods whose node is in missing.
func boundToMissingNodes(pods []*corev1.Pod, missing map[string]bool) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.Spec.NodeName != "" && missing[p.Spec.NodeName] {
			out = append(out, p)
		}
	}
	return out
}

// unscheduledTerminating returns pods being deleted that never got a node:
// no agent will ever finish their deletion.
func unscheduledTerminating(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp != nil && p.Spec.NodeName == "" {
			out = append(out, p)
		}
	}
	return out
}
