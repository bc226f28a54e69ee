// Package node is the registry of core/v1 nodes: validation of taints and
// pod CIDRs, the update rules (spec is fixed except unschedulable, taints
// and once-set podCIDRs/providerID), status and `kubectl get nodes`.
package node

import (
	"context"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/batchlet/batchlet/internal/registry"
)

// Resource describes core/v1 nodes.
func Resource() registry.Resource {
	return registry.Resource{
		GroupVersion: corev1.SchemeGroupVersion,
		Kind:         "Node",
		ListKind:     "NodeList",
		Plural:       "nodes",
		Singular:     "node",
		ShortNames:   []string{"no"},
		Namespaced:   false,
		New:          func() runtime.Object { return &corev1.Node{} },
		NewList:      func() runtime.Object { return &corev1.NodeList{} },
		Strategy:     strategy{},
		Status:       statusStrategy{},
		Table:        table{},
	}
}

type strategy struct{}

// Default makes allocatable default to capacity, as upstream.
func (strategy) Default(obj runtime.Object) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	if n.Status.Allocatable == nil && n.Status.Capacity != nil {
		n.Status.Allocatable = n.Status.Capacity.DeepCopy()
	}
}

// PrepareForCreate keeps status: a node agent registers its node with it.
func (strategy) PrepareForCreate(context.Context, runtime.Object) {}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return nil
	}
	return validateNode(n)
}

func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	n, ok1 := obj.(*corev1.Node)
	oldN, ok2 := old.(*corev1.Node)
	if ok1 && ok2 {
		n.Status = oldN.Status
	}
}

func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	n, ok1 := obj.(*corev1.Node)
	oldN, ok2 := old.(*corev1.Node)
	if !ok1 || !ok2 {
		return nil
	}
	return append(validateNode(n), validateNodeUpdate(n, oldN)...)
}

func (strategy) GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return nil, nil, fmt.Errorf("node registry: not a node: %T", obj)
	}
	return labels.Set(n.Labels), fields.Set{"spec.unschedulable": strconv.FormatBool(n.Spec.Unschedulable)}, nil
}

type statusStrategy struct{}

func (statusStrategy) PrepareForStatusUpdate(_ context.Context, obj, old runtime.Object) {
	n, ok1 := obj.(*corev1.Node)
	oldN, ok2 := old.(*corev1.Node)
	if ok1 && ok2 {
		n.Spec = oldN.Spec
	}
}

func (statusStrategy) ValidateStatusUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return strategy{}.ValidateUpdate(context.Background(), obj, old)
}
