package job

import (
	"context"
	"fmt"
	"strconv"

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
	if j, ok := obj.(*batchv1.Job); ok {
		SetDefaults(j)
	}
}

// PrepareForCreate resets status, sets generation 1 and generates the
// selector and template labels from the UID the generic layer assigned.
func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	j, ok := obj.(*batchv1.Job)
	if !ok {
		return
	}
	j.Status = batchv1.JobStatus{}
	j.Generation = 1
	generateSelector(j)
	copyTemplateLabels(j)
}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	j, ok := obj.(*batchv1.Job)
	if !ok {
		return nil
	}
	return validateJob(j, validationOptions{requirePrefixedLabels: true})
}

// PrepareForUpdate keeps status (owned by /status) and bumps generation
// when the spec changed.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	j, ok1 := obj.(*batchv1.Job)
	oldJ, ok2 := old.(*batchv1.Job)
	if !ok1 || !ok2 {
		return
	}
	j.Status = oldJ.Status
	j.Generation = oldJ.Generation
	if !apiequality.Semantic.DeepEqual(j.Spec, oldJ.Spec) {
		j.Generation = oldJ.Generation + 1
	}
}

func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	j, ok1 := obj.(*batchv1.Job)
	oldJ, ok2 := old.(*batchv1.Job)
	if !ok1 || !ok2 {
		return nil
	}
	opts := updateOptions(oldJ)
	errs := validateJob(j, opts)
	return append(errs, validateJobSpecUpdate(&j.Spec, &oldJ.Spec, field.NewPath("spec"), opts)...)
}

// GetAttrs exposes status.successful, the one Job-specific field selector.
func (strategy) GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	j, ok := obj.(*batchv1.Job)
	if !ok {
		return nil, nil, fmt.Errorf("job attributes: not a Job: %T", obj)
	}
	return labels.Set(j.Labels), fields.Set{"status.successful": strconv.Itoa(int(j.Status.Succeeded))}, nil
}

// DefaultGarbageCollectionPolicy orphans a batch/v1 Job's pods when the
// DELETE names no policy, kept from the first batch/v1 release.
func (strategy) DefaultGarbageCollectionPolicy() metav1.DeletionPropagation {
	return metav1.DeletePropagationOrphan
}

type statusStrategy struct{}

// PrepareForStatusUpdate keeps the spec; status comes from the request.
func (statusStrategy) PrepareForStatusUpdate(_ context.Context, obj, old runtime.Object) {
	j, ok1 := obj.(*batchv1.Job)
	oldJ, ok2 := old.(*batchv1.Job)
	if !ok1 || !ok2 {
		return
	}
	j.Spec = oldJ.Spec
	j.Generation = oldJ.Generation
}

func (statusStrategy) ValidateStatusUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	j, ok1 := obj.(*batchv1.Job)
	oldJ, ok2 := old.(*batchv1.Job)
	if !ok1 || !ok2 {
		return nil
	}
	return validateStatusUpdate(j, oldJ)
}
