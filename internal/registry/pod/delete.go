package pod

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/batchlet/batchlet/internal/registry"
)

// CheckGracefulDelete decides a pod's grace period: the requested one or
// else spec.terminationGracePeriodSeconds; zero for a pod that is not bound
// to a node or has already terminated; a negative value becomes 1. A pod
// is deleted gracefully when the result is positive.
func (strategy) CheckGracefulDelete(_ context.Context, obj runtime.Object, requested *int64) (int64, bool) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return 0, false
	}
	var grace int64
	switch {
	case requested != nil:
		grace = *requested
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.Spec.NodeName == "" {
		grace = 0
	}
	if pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
		grace = 0
	}
	if grace < 0 {
		grace = 1
	}
	return grace, grace > 0
}

var _ registry.GracefulDeleter = strategy{}
