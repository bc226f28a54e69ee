package service

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/batchlet/batchlet/internal/registry"
)

var _ registry.Admitter = strategy{}

type strategy struct {
	alloc IPAllocator
}

func (strategy) Default(obj runtime.Object) {
	if svc, ok := obj.(*corev1.Service); ok {
		setDefaults(svc)
	}
}

func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return
	}
	svc.Status = corev1.ServiceStatus{}
	setIPFamilies(svc, corev1.IPv4Protocol)
}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil
	}
	return validateService(svc)
}

// PrepareForUpdate keeps status and, as upstream, carries allocated
// values (cluster IPs, node ports) over when the request left them empty,
// so a full PUT of the user's manifest works.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	svc, ok1 := obj.(*corev1.Service)
	oldSvc, ok2 := old.(*corev1.Service)
	if !ok1 || !ok2 {
		return
	}
	svc.Status = oldSvc.Status
	if needsClusterIP(oldSvc) && needsClusterIP(svc) {
		if svc.Spec.ClusterIP == "" && len(svc.Spec.ClusterIPs) == 0 {
			svc.Spec.ClusterIP = oldSvc.Spec.ClusterIP
			svc.Spec.ClusterIPs = oldSvc.Spec.ClusterIPs
		}
		if svc.Spec.IPFamilyPolicy == nil {
			svc.Spec.IPFamilyPolicy = oldSvc.Spec.IPFamilyPolicy
		}
		if len(svc.Spec.IPFamilies) == 0 {
			svc.Spec.IPFamilies = oldSvc.Spec.IPFamilies
		}
	}
	oldNodePorts := map[string]int32{}
	for _, p := range oldSvc.Spec.Ports {
		oldNodePorts[fmt.Sprintf("%d/%s", p.Port, p.Protocol)] = p.NodePort
	}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.NodePort == 0 {
			p.NodePort = oldNodePorts[fmt.Sprintf("%d/%s", p.Port, p.Protocol)]
		}
	}
	if svc.Spec.Type != corev1.ServiceTypeExternalName {
		setIPFamilies(svc, corev1.IPv4Protocol)
	}
}

func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	svc, ok1 := obj.(*corev1.Service)
	oldSvc, ok2 := old.(*corev1.Service)
	if !ok1 || !ok2 {
		return nil
	}
	return append(validateService(svc), validateUpdate(svc, oldSvc)...)
}

func (strategy) GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil, nil, fmt.Errorf("service registry: not a service: %T", obj)
	}
	return labels.Set(svc.Labels), fields.Set{"spec.clusterIP": svc.Spec.ClusterIP, "spec.type": string(svc.Spec.Type)}, nil
}

// needsClusterIP: every type but ExternalName has a cluster IP (or None).
func needsClusterIP(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName
}

// Admit allocates the cluster IP on create (and when a service stops
// being ExternalName) and releases it when a service becomes
// ExternalName. It runs after validation.
func (s strategy) Admit(ctx context.Context, obj, old runtime.Object) error {
	svc, ok := obj.(*corev1.Service)
	if !ok || s.alloc == nil {
		return nil
	}
	oldSvc, _ := old.(*corev1.Service)
	switch {
	case oldSvc == nil || !needsClusterIP(oldSvc):
		if needsClusterIP(svc) {
			return s.allocate(ctx, svc)
		}
	case !needsClusterIP(svc):
		return s.release(ctx, oldSvc)
	}
	return nil
}

func (s strategy) allocate(ctx context.Context, svc *corev1.Service) error {
	path := field.NewPath("spec", "clusterIPs")
	switch svc.Spec.ClusterIP {
	case corev1.ClusterIPNone:
		return nil
	case "":
		ip, err := s.alloc.Allocate(ctx)
		if err != nil {
			return apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: %w", err))
		}
		svc.Spec.ClusterIP = ip.String()
		svc.Spec.ClusterIPs = []string{ip.String()}
		return nil
	}
	ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
	if err != nil {
		return invalid(svc, field.Invalid(path, svc.Spec.ClusterIPs, "must be empty, 'None', or a valid IP address"))
	}
	switch err := s.alloc.AllocateIP(ctx, ip); {
	case err == nil:
		return nil
	case errors.Is(err, ErrAllocated):
		return invalid(svc, field.Invalid(path, svc.Spec.ClusterIPs, fmt.Sprintf("failed to allocate IP %v: %v", ip, err)))
	case errors.Is(err, ErrNotInRange):
		return invalid(svc, field.Invalid(path, svc.Spec.ClusterIPs, fmt.Sprintf(
			"failed to allocate IP %v: the provided IP (%v) is not in the valid range. The range of valid IPs is %v", ip, ip, s.alloc.CIDR())))
	default:
		return apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: %w", err))
	}
}

func invalid(svc *corev1.Service, e *field.Error) error {
	return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name, field.ErrorList{e})
}

func (s strategy) release(ctx context.Context, svc *corev1.Service) error {
	for _, raw := range svc.Spec.ClusterIPs {
		ip, err := netip.ParseAddr(raw)
		if err != nil {
			continue // "None" or garbage: nothing allocated
		}
		if err := s.alloc.Release(ctx, ip); err != nil {
			return fmt.Errorf("release service IP %s: %w", ip, err)
		}
	}
	return nil
}

// AfterDelete releases the deleted service's cluster IPs. The generic
// layer calls it once the object is gone from storage (and when a create
// fails after Admit allocated).
func (s strategy) AfterDelete(ctx context.Context, obj runtime.Object) error {
	svc, ok := obj.(*corev1.Service)
	if !ok || s.alloc == nil {
		return nil
	}
	return s.release(ctx, svc)
}

type statusStrategy struct{}

func (statusStrategy) PrepareForStatusUpdate(_ context.Context, obj, old runtime.Object) {
	svc, ok1 := obj.(*corev1.Service)
	oldSvc, ok2 := old.(*corev1.Service)
	if ok1 && ok2 {
		svc.Spec = oldSvc.Spec
	}
}

func (statusStrategy) ValidateStatusUpdate(_ context.Context, obj, _ runtime.Object) field.ErrorList {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil
	}
	var errs field.ErrorList
	for i, ing := range svc.Status.LoadBalancer.Ingress {
		if ing.IP == "" {
			continue
		}
		if _, err := netip.ParseAddr(ing.IP); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("status", "loadBalancer", "ingress").Index(i).Child("ip"), ing.IP, "must be a valid IP address"))
		}
	}
	return errs
}
