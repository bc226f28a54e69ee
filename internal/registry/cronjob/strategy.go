package cronjob

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

type strategy struct{}

func (strategy) Default(obj runtime.Object) {
	if cj, ok := obj.(*batchv1.CronJob); ok {
		SetDefaults(cj)
	}
}

// PrepareForCreate resets status and sets generation 1.
func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	if cj, ok := obj.(*batchv1.CronJob); ok {
		cj.Status = batchv1.CronJobStatus{}
		cj.Generation = 1
	}
}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	if cj, ok := obj.(*batchv1.CronJob); ok {
		return validateCreate(cj)
	}
	return nil
}

// PrepareForUpdate keeps status (owned by /status) and bumps generation
// when the spec changed.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	cj, ok1 := obj.(*batchv1.CronJob)
	oldCJ, ok2 := old.(*batchv1.CronJob)
	if !ok1 || !ok2 {
		return
	}
	cj.Status = oldCJ.Status
	cj.Generation = oldCJ.Generation
	if !apiequality.Semantic.DeepEqual(cj.Spec, oldCJ.Spec) {
		cj.Generation = oldCJ.Generation + 1
	}
}

func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	cj, ok1 := obj.(*batchv1.CronJob)
	oldCJ, ok2 := old.(*batchv1.CronJob)
	if !ok1 || !ok2 {
		return nil
	}
	return validateUpdate(cj, oldCJ)
}

// GetAttrs: CronJobs have no selectable fields beyond metadata.
func (strategy) GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	cj, ok := obj.(*batchv1.CronJob)
	if !ok {
		return nil, nil, fmt.Errorf("cronjob attributes: not a CronJob: %T", obj)
	}
	return labels.Set(cj.Labels), fields.Set{}, nil
}

// DefaultGarbageCollectionPolicy deletes a CronJob's Jobs in the
// background when the DELETE names no policy.
func (strategy) DefaultGarbageCollectionPolicy() metav1.DeletionPropagation {
	return metav1.DeletePropagationBackground
}

type statusStrategy struct{}

// PrepareForStatusUpdate keeps the spec; status comes from the request.
func (statusStrategy) PrepareForStatusUpdate(_ context.Context, obj, old runtime.Object) {
	cj, ok1 := obj.(*batchv1.CronJob)
	oldCJ, ok2 := old.(*batchv1.CronJob)
	if !ok1 || !ok2 {
		return
	}
	cj.Spec = oldCJ.Spec
	cj.Generation = oldCJ.Generation
}

// ValidateStatusUpdate: upstream does not validate CronJob status.
func (statusStrategy) ValidateStatusUpdate(context.Context, runtime.Object, runtime.Object) field.ErrorList {
	return nil
}
