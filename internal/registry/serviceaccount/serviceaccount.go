// Package serviceaccount is the registry of core/v1 service accounts.
package serviceaccount

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/batchlet/batchlet/internal/registry"
)

// Resource describes core/v1 serviceaccounts.
func Resource() registry.Resource {
	return registry.Resource{
		GroupVersion: corev1.SchemeGroupVersion,
		Kind:         "ServiceAccount",
		ListKind:     "ServiceAccountList",
		Plural:       "serviceaccounts",
		Singular:     "serviceaccount",
		ShortNames:   []string{"sa"},
		Namespaced:   true,
		New:          func() runtime.Object { return &corev1.ServiceAccount{} },
		NewList:      func() runtime.Object { return &corev1.ServiceAccountList{} },
		Strategy:     strategy{},
		Table:        table{},
	}
}

type strategy struct{}

func (strategy) Default(runtime.Object)                                           {}
func (strategy) PrepareForCreate(context.Context, runtime.Object)                 {}
func (strategy) PrepareForUpdate(context.Context, runtime.Object, runtime.Object) {}

// Validate checks the names of referenced secrets.
func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	sa, ok := obj.(*corev1.ServiceAccount)
	if !ok {
		return nil
	}
	var errs field.ErrorList
	for i, ref := range sa.ImagePullSecrets {
		for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(ref.Name, false) {
			errs = append(errs, field.Invalid(field.NewPath("imagePullSecrets").Index(i).Child("name"), ref.Name, msg))
		}
	}
	return errs
}

func (s strategy) ValidateUpdate(ctx context.Context, obj, _ runtime.Object) field.ErrorList {
	return s.Validate(ctx, obj)
}

func (strategy) GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	sa, ok := obj.(*corev1.ServiceAccount)
	if !ok {
		return nil, nil, fmt.Errorf("serviceaccount registry: not a service account: %T", obj)
	}
	return labels.Set(sa.Labels), fields.Set{}, nil
}

type table struct{}

func (table) Columns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
		{Name: "Secrets", Type: "string", Description: corev1.ServiceAccount{}.SwaggerDoc()["secrets"]},
		{Name: "Age", Type: "string", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
	}
}

func (table) Row(obj runtime.Object, now time.Time) ([]interface{}, error) {
	sa, ok := obj.(*corev1.ServiceAccount)
	if !ok {
		return nil, fmt.Errorf("serviceaccount table: not a service account: %T", obj)
	}
	age := "<unknown>"
	if !sa.CreationTimestamp.IsZero() {
		age = duration.HumanDuration(now.Sub(sa.CreationTimestamp.Time))
	}
	return []interface{}{sa.Name, int64(len(sa.Secrets)), age}, nil
}
