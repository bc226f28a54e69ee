package endpoints

import (
	"context"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// sync brings the Endpoints of one Service to the desired state: deleted
// when the Service is gone, untouched for Services without a selector or
// of type ExternalName, otherwise computed from the matching pods and
// written only when it differs.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("splitting key %q: %w", key, err)
	}
	svc, err := c.serviceLister.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return c.deleteEndpoints(ctx, key, ns, name)
	}
	if err != nil {
		return fmt.Errorf("getting service %s from cache: %w", key, err)
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.Selector == nil {
		return nil
	}
	pods, err := c.podLister.Pods(ns).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return fmt.Errorf("listing pods of service %s: %w", key, err)
	}
	// Computed before the no-op check so that the tracker sees every sync.
	trigger := c.triggers.compute(key, svc, pods)

	current, err := c.endpointsLister.Endpoints(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("getting endpoints %s from cache: %w", key, err)
	}
	if apierrors.IsNotFound(err) {
		current = nil
	}
	desired := desiredEndpoints(svc, pods, current, trigger)
	if desired == nil {
		return nil
	}
	return c.write(ctx, svc, desired, current == nil)
}

// desiredEndpoints returns the Endpoints object to write, or nil when
// current is already right.
func desiredEndpoints(svc *corev1.Service, pods []*corev1.Pod, current *corev1.Endpoints, trigger time.Time) *corev1.Endpoints {
	subsets := desiredSubsets(svc, pods)
	if current != nil && upToDate(current, svc, subsets) {
		return nil
	}
	var ep *corev1.Endpoints
	if current != nil {
		ep = current.DeepCopy()
	} else {
		ep = &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace}}
	}
	ep.Subsets = subsets
	ep.Labels = maps.Clone(svc.Labels)
	if ep.Labels == nil {
		ep.Labels = map[string]string{}
	}
	if serviceIPSet(svc) {
		delete(ep.Labels, corev1.IsHeadlessService)
	} else {
		ep.Labels[corev1.IsHeadlessService] = ""
	}
	if ep.Annotations == nil {
		ep.Annotations = map[string]string{}
	}
	if trigger.IsZero() {
		delete(ep.Annotations, corev1.EndpointsLastChangeTriggerTime)
	} else {
		ep.Annotations[corev1.EndpointsLastChangeTriggerTime] = trigger.UTC().Format(time.RFC3339Nano)
	}
	if truncate(ep.Subsets) {
		ep.Subsets = dropEmpty(ep.Subsets)
		ep.Annotations[corev1.EndpointsOverCapacity] = overCapacityValue
	} else {
		delete(ep.Annotations, corev1.EndpointsOverCapacity)
	}
	return ep
}

// upToDate compares what the controller owns: subsets (ignoring pod
// resourceVersions), labels (apart from the headless marker) and the
// over-capacity annotation.
func upToDate(current *corev1.Endpoints, svc *corev1.Service, subsets []corev1.EndpointSubset) bool {
	count := 0
	for _, s := range subsets {
		count += len(s.Addresses) + len(s.NotReadyAddresses)
	}
	_, annotated := current.Annotations[corev1.EndpointsOverCapacity]
	if count > maxCapacity || annotated {
		return false
	}
	have := maps.Clone(current.Labels)
	delete(have, corev1.IsHeadlessService)
	if !apiequality.Semantic.DeepEqual(normalizeLabels(have), normalizeLabels(svc.Labels)) {
		return false
	}
	if _, marked := current.Labels[corev1.IsHeadlessService]; marked == serviceIPSet(svc) {
		return false
	}
	return apiequality.Semantic.DeepEqual(stripRefVersions(current.Subsets), subsets)
}

func normalizeLabels(l map[string]string) map[string]string {
	if len(l) == 0 {
		return nil
	}
	return l
}

// stripRefVersions copies subsets without targetRef resourceVersions, so a
// pod update that changes nothing else causes no write.
func stripRefVersions(in []corev1.EndpointSubset) []corev1.EndpointSubset {
	out := make([]corev1.EndpointSubset, len(in))
	for i, s := range in {
		out[i] = *s.DeepCopy()
		for _, list := range [][]corev1.EndpointAddress{out[i].Addresses, out[i].NotReadyAddresses} {
			for j := range list {
				if list[j].TargetRef != nil {
					list[j].TargetRef.ResourceVersion = ""
				}
			}
		}
	}
	return out
}

func (c *Controller) write(ctx context.Context, svc *corev1.Service, ep *corev1.Endpoints, create bool) error {
	client := c.client.CoreV1().Endpoints(svc.Namespace)
	var err error
	if create {
		_, err = client.Create(ctx, ep, metav1.CreateOptions{})
	} else {
		_, err = client.Update(ctx, ep, metav1.UpdateOptions{})
	}
	if err == nil {
		klog.FromContext(ctx).V(4).Info("Update endpoints", "service", klog.KObj(svc))
		return nil
	}
	if create && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return nil
	}
	if create {
		c.recorder.Eventf(ep, corev1.EventTypeWarning, "FailedToCreateEndpoint", "Failed to create endpoint for service %v/%v: %v", svc.Namespace, svc.Name, err)
		return fmt.Errorf("creating endpoints %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	c.recorder.Eventf(ep, corev1.EventTypeWarning, "FailedToUpdateEndpoint", "Failed to update endpoint %v/%v: %v", svc.Namespace, svc.Name, err)
	return fmt.Errorf("updating endpoints %s/%s: %w", svc.Namespace, svc.Name, err)
}

func (c *Controller) deleteEndpoints(ctx context.Context, key, ns, name string) error {
	c.triggers.forget(key)
	if ep, err := c.endpointsLister.Endpoints(ns).Get(name); err == nil {
		if _, ok := ep.Annotations[leaderElectionAnnotation]; ok {
			return nil
		}
	}
	err := c.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting endpoints %s: %w", key, err)
	}
	return nil
}
