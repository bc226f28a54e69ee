package apiserver

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/batchlet/batchlet/internal/registry"
)

// Small test kinds: configmaps (plain), jobs (status, table, field
// selector, Orphan default), namespaces, pods (graceful, status) and nodes.

type plainStrategy struct{}

func (plainStrategy) Default(runtime.Object)                                           {}
func (plainStrategy) PrepareForCreate(context.Context, runtime.Object)                 {}
func (plainStrategy) Validate(context.Context, runtime.Object) field.ErrorList         { return nil }
func (plainStrategy) PrepareForUpdate(context.Context, runtime.Object, runtime.Object) {}
func (plainStrategy) ValidateUpdate(context.Context, runtime.Object, runtime.Object) field.ErrorList {
	return nil
}
func (plainStrategy) GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	acc, err := accessor(obj)
	if err != nil {
		return nil, nil, err
	}
	return labels.Set(acc.GetLabels()), nil, nil
}

func configMapResource() registry.Resource {
	return registry.Resource{
		GroupVersion: schema.GroupVersion{Version: "v1"}, Kind: "ConfigMap", ListKind: "ConfigMapList",
		Plural: "configmaps", Singular: "configmap", ShortNames: []string{"cm"}, Namespaced: true,
		New: func() runtime.Object { return &corev1.ConfigMap{} }, NewList: func() runtime.Object { return &corev1.ConfigMapList{} },
		Strategy: plainStrategy{},
	}
}

type jobStrategy struct{ plainStrategy }

func (jobStrategy) Default(obj runtime.Object) {
	j := obj.(*batchv1.Job)
	if j.Spec.Completions == nil {
		one := int32(1)
		j.Spec.Completions = &one
	}
}
func (jobStrategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	j := obj.(*batchv1.Job)
	j.Status = batchv1.JobStatus{}
	j.Generation = 1
}
func (jobStrategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	j := obj.(*batchv1.Job)
	p := j.Spec.Template.Spec.RestartPolicy
	if p != corev1.RestartPolicyOnFailure && p != corev1.RestartPolicyNever {
		return field.ErrorList{field.NotSupported(field.NewPath("spec", "template", "spec", "restartPolicy"), p, []string{"OnFailure", "Never"})}
	}
	return nil
}
func (jobStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	j, o := obj.(*batchv1.Job), old.(*batchv1.Job)
	j.Status = o.Status
	if !apiequality.Semantic.DeepEqual(j.Spec, o.Spec) {
		j.Generation = o.Generation + 1
	}
}
func (s jobStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return s.Validate(ctx, obj)
}
func (jobStrategy) GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	j := obj.(*batchv1.Job)
	return labels.Set(j.Labels), fields.Set{"status.successful": fmt.Sprint(j.Status.Succeeded)}, nil
}
func (jobStrategy) DefaultGarbageCollectionPolicy() metav1.DeletionPropagation {
	return metav1.DeletePropagationOrphan
}

type jobStatusStrategy struct{}

func (jobStatusStrategy) PrepareForStatusUpdate(_ context.Context, obj, old runtime.Object) {
	j, o := obj.(*batchv1.Job), old.(*batchv1.Job)
	j.Spec = o.Spec
	j.Labels = o.Labels
}
func (jobStatusStrategy) ValidateStatusUpdate(context.Context, runtime.Object, runtime.Object) field.ErrorList {
	return nil
}

type jobTable struct{}

func (jobTable) Columns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name"},
		{Name: "Completions", Type: "string"},
		{Name: "Age", Type: "string"},
	}
}
func (jobTable) Row(obj runtime.Object, now time.Time) ([]interface{}, error) {
	j := obj.(*batchv1.Job)
	return []interface{}{j.Name, fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions), now.Sub(j.CreationTimestamp.Time).String()}, nil
}

func jobResource() registry.Resource {
	return registry.Resource{
		GroupVersion: schema.GroupVersion{Group: "batch", Version: "v1"}, Kind: "Job", ListKind: "JobList",
		Plural: "jobs", Singular: "job", Namespaced: true,
		New: func() runtime.Object { return &batchv1.Job{} }, NewList: func() runtime.Object { return &batchv1.JobList{} },
		Strategy: jobStrategy{}, Status: jobStatusStrategy{}, Table: jobTable{},
	}
}

type namespaceStrategy struct{ plainStrategy }

func (namespaceStrategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	ns := obj.(*corev1.Namespace)
	ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
	ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
}
func (namespaceStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	n, o := obj.(*corev1.Namespace), old.(*corev1.Namespace)
	n.Spec.Finalizers = o.Spec.Finalizers
	n.Status = o.Status
}

func namespaceResource() registry.Resource {
	return registry.Resource{
		GroupVersion: schema.GroupVersion{Version: "v1"}, Kind: "Namespace", ListKind: "NamespaceList",
		Plural: "namespaces", Singular: "namespace",
		New: func() runtime.Object { return &corev1.Namespace{} }, NewList: func() runtime.Object { return &corev1.NamespaceList{} },
		Strategy: namespaceStrategy{}, Status: podStatusStrategy{},
	}
}

type podStrategy struct{ plainStrategy }

func (podStrategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	obj.(*corev1.Pod).Status = corev1.PodStatus{Phase: corev1.PodPending}
}
func (podStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*corev1.Pod).Status = old.(*corev1.Pod).Status
}
func (podStrategy) GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	p := obj.(*corev1.Pod)
	return labels.Set(p.Labels), fields.Set{"spec.nodeName": p.Spec.NodeName}, nil
}
func (podStrategy) CheckGracefulDelete(_ context.Context, obj runtime.Object, requested *int64) (int64, bool) {
	if requested != nil {
		return *requested, true
	}
	p := obj.(*corev1.Pod)
	if p.Spec.TerminationGracePeriodSeconds != nil {
		return *p.Spec.TerminationGracePeriodSeconds, true
	}
	return 30, true
}

// podStatusStrategy keeps everything of old but status (any kind).
type podStatusStrategy struct{}

func (podStatusStrategy) PrepareForStatusUpdate(_ context.Context, obj, old runtime.Object) {
	switch o := obj.(type) {
	case *corev1.Pod:
		o.Spec = old.(*corev1.Pod).Spec
	case *corev1.Namespace:
		o.Spec = old.(*corev1.Namespace).Spec
	case *corev1.Node:
		o.Spec = old.(*corev1.Node).Spec
	}
}
func (podStatusStrategy) ValidateStatusUpdate(context.Context, runtime.Object, runtime.Object) field.ErrorList {
	return nil
}

func podResource() registry.Resource {
	return registry.Resource{
		GroupVersion: schema.GroupVersion{Version: "v1"}, Kind: "Pod", ListKind: "PodList",
		Plural: "pods", Singular: "pod", Namespaced: true,
		New: func() runtime.Object { return &corev1.Pod{} }, NewList: func() runtime.Object { return &corev1.PodList{} },
		Strategy: podStrategy{}, Status: podStatusStrategy{},
	}
}

func nodeResource() registry.Resource {
	return registry.Resource{
		GroupVersion: schema.GroupVersion{Version: "v1"}, Kind: "Node", ListKind: "NodeList",
		Plural: "nodes", Singular: "node",
		New: func() runtime.Object { return &corev1.Node{} }, NewList: func() runtime.Object { return &corev1.NodeList{} },
		Strategy: plainStrategy{}, Status: podStatusStrategy{},
	}
}

func testResources() []registry.Resource {
	return []registry.Resource{namespaceResource(), configMapResource(), jobResource(), podResource(), nodeResource()}
}
