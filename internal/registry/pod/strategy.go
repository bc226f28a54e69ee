package pod

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kubectl/pkg/util/qos"
)

type strategy struct{}

func (strategy) Default(obj runtime.Object) {
	if pod, ok := obj.(*corev1.Pod); ok {
		SetDefaultsPod(pod)
	}
}

// PrepareForCreate resets status to Pending with the computed QoS class,
// applies the default admission mutations and marks gated pods. A
// spec.nodeName given on create is kept, as upstream does.
func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	applyCreateAdmission(pod)
	pod.Generation = 1
	pod.Status = corev1.PodStatus{
		Phase:    corev1.PodPending,
		QOSClass: qos.ComputePodQOS(pod),
	}
	if len(pod.Spec.SchedulingGates) > 0 {
		pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{
			Type:    corev1.PodScheduled,
			Status:  corev1.ConditionFalse,
			Reason:  corev1.PodReasonSchedulingGated,
			Message: "Scheduling is blocked due to non-empty scheduling gates",
		})
	}
}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil
	}
	errs := validatePodSpec(&pod.Spec, field.NewPath("spec"))
	specPath := field.NewPath("spec")
	if len(pod.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(specPath.Child("ephemeralContainers"), "cannot be set on create"))
	}
	if pod.Spec.NodeName != "" && len(pod.Spec.SchedulingGates) != 0 {
		errs = append(errs, field.Forbidden(specPath.Child("nodeName"), "cannot be set until all schedulingGates have been cleared"))
	}
	return errs
}

// PrepareForUpdate keeps status (owned by /status) and bumps generation
// when the spec changed.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	pod, ok1 := obj.(*corev1.Pod)
	oldPod, ok2 := old.(*corev1.Pod)
	if !ok1 || !ok2 {
		return
	}
	pod.Status = oldPod.Status
	pod.Generation = oldPod.Generation
	if !apiequality.Semantic.DeepEqual(pod.Spec, oldPod.Spec) {
		pod.Generation = oldPod.Generation + 1
	}
}

func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	pod, ok1 := obj.(*corev1.Pod)
	oldPod, ok2 := old.(*corev1.Pod)
	if !ok1 || !ok2 {
		return nil
	}
	errs := validatePodSpec(&pod.Spec, field.NewPath("spec"))
	return append(errs, validatePodSpecUpdate(&pod.Spec, &oldPod.Spec)...)
}

type statusStrategy struct{}

// PrepareForStatusUpdate keeps spec, ownerReferences and deletion state;
// only status (and labels/annotations) come from the request.
func (statusStrategy) PrepareForStatusUpdate(_ context.Context, obj, old runtime.Object) {
	pod, ok1 := obj.(*corev1.Pod)
	oldPod, ok2 := old.(*corev1.Pod)
	if !ok1 || !ok2 {
		return
	}
	pod.Spec = oldPod.Spec
	pod.DeletionTimestamp = oldPod.DeletionTimestamp
	pod.DeletionGracePeriodSeconds = oldPod.DeletionGracePeriodSeconds
	pod.OwnerReferences = oldPod.OwnerReferences
	pod.Generation = oldPod.Generation
}

func (statusStrategy) ValidateStatusUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	pod, ok1 := obj.(*corev1.Pod)
	oldPod, ok2 := old.(*corev1.Pod)
	if !ok1 || !ok2 {
		return nil
	}
	return validatePodStatusUpdate(pod, oldPod)
}
