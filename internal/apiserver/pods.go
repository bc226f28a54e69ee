package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/batchlet/batchlet/internal/storage"
)

type subresourceHandler func(w http.ResponseWriter, r *http.Request, rq *request)

// podSubresource returns the handler of a pod subresource and method.
func (s *server) podSubresource(name, method string) subresourceHandler {
	switch {
	case name == "binding" && method == http.MethodPost:
		return s.handleBinding
	case name == "eviction" && method == http.MethodPost:
		return s.handleEviction
	}
	return s.podProxySubresource(name, method)
}

// decodeInto decodes a subresource body (Binding, Eviction) into into.
func (s *server) decodeInto(w http.ResponseWriter, r *http.Request, into runtime.Object, gvk schema.GroupVersionKind) error {
	info, err := s.negotiateInput(r)
	if err != nil {
		return err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	obj, _, err := info.Serializer.Decode(body, &gvk, into)
	if err != nil {
		return badRequestf("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err)
	}
	if obj != into {
		return badRequestf("the object provided is not a %s", gvk.Kind)
	}
	return nil
}

// handleBinding assigns a pod to a node (POST pods/<name>/binding).
func (s *server) handleBinding(w http.ResponseWriter, r *http.Request, rq *request) {
	binding := &corev1.Binding{}
	if err := s.decodeInto(w, r, binding, corev1.SchemeGroupVersion.WithKind("Binding")); err != nil {
		s.writeError(w, r, err)
		return
	}
	if binding.Name != "" && binding.Name != rq.name {
		s.writeError(w, r, badRequestf("the name of the object (%s) does not match the name on the URL (%s)", binding.Name, rq.name))
		return
	}
	if binding.Target.Kind != "" && binding.Target.Kind != "Node" {
		s.writeError(w, r, apierrors.NewInvalid(schema.GroupKind{Kind: "Binding"}, rq.name, nil))
		return
	}
	if binding.Target.Name == "" {
		s.writeError(w, r, badRequestf("Binding %q is invalid: target.name: Required value", rq.name))
		return
	}
	// A binding naming a UID is for that pod only, not one re-created
	// under the same name since.
	var pre *storage.Preconditions
	if binding.UID != "" {
		pre = &storage.Preconditions{UID: &binding.UID}
	}
	_, err := s.guaranteedUpdate(r.Context(), rq, pre, func(current runtime.Object) (runtime.Object, error) {
		pod, ok := current.(*corev1.Pod)
		if !ok {
			return nil, apierrors.NewInternalError(fmt.Errorf("stored object is %T, not a pod", current))
		}
		if pod.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(rq.res.gr, rq.name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", pod.Name))
		}
		if pod.Spec.NodeName != "" {
			return nil, apierrors.NewConflict(rq.res.gr, rq.name, fmt.Errorf("pod %s is already assigned to node %q", pod.Name, pod.Spec.NodeName))
		}
		pod.Spec.NodeName = binding.Target.Name
		for k, v := range binding.Annotations {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[k] = v
		}
		markScheduled(pod, s.cfg.Clock.Now())
		return pod, nil
	})
	if err != nil {
		s.writeError(w, r, storageError(err, rq.res.gr, rq.name))
		return
	}
	s.writeStatus(w, r, http.StatusCreated)
}

// handleEviction marks a pod DisruptionTarget and deletes it
// (POST pods/<name>/eviction).
func (s *server) handleEviction(w http.ResponseWriter, r *http.Request, rq *request) {
	eviction := &policyv1.Eviction{}
	if err := s.decodeInto(w, r, eviction, policyv1.SchemeGroupVersion.WithKind("Eviction")); err != nil {
		s.writeError(w, r, err)
		return
	}
	if eviction.Name != "" && eviction.Name != rq.name {
		s.writeError(w, r, badRequestf("name in URL does not match name in Eviction object"))
		return
	}
	ctx := r.Context()
	if err := s.markDisruptionTarget(ctx, rq); err != nil {
		s.writeError(w, r, err)
		return
	}
	opts := eviction.DeleteOptions
	if opts == nil {
		opts = &metav1.DeleteOptions{}
	}
	if errs := validateDeleteOptions(opts); len(errs) > 0 {
		s.writeError(w, r, apierrors.NewInvalid(schema.GroupKind{Group: "policy", Kind: "Eviction"}, rq.name, errs))
		return
	}
	if _, _, err := s.deleteObject(ctx, rq, opts); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeStatus(w, r, http.StatusCreated)
}

// markDisruptionTarget adds upstream's DisruptionTarget condition.
func (s *server) markDisruptionTarget(ctx context.Context, rq *request) error {
	now := metav1.NewTime(s.cfg.Clock.Now().Truncate(time.Second))
	_, err := s.store.GuaranteedUpdate(ctx, rq.key(), nil, func(current runtime.Object) (runtime.Object, error) {
		pod, ok := current.(*corev1.Pod)
		if !ok {
			return nil, apierrors.NewInternalError(fmt.Errorf("stored object is %T, not a pod", current))
		}
		cond := corev1.PodCondition{
			Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
			Reason: "EvictionByEvictionAPI", Message: "Eviction API: evicting", LastTransitionTime: now,
		}
		for i, c := range pod.Status.Conditions {
			if c.Type == corev1.DisruptionTarget {
				if c.Status == corev1.ConditionTrue && c.Reason == cond.Reason {
					return pod, nil
				}
				pod.Status.Conditions[i] = cond
				return pod, nil
			}
		}
		pod.Status.Conditions = append(pod.Status.Conditions, cond)
		return pod, nil
	})
	return storageError(err, rq.res.gr, rq.name)
}

// writeStatus writes a bare Success Status with code.
func (s *server) writeStatus(w http.ResponseWriter, r *http.Request, code int) {
	out, err := s.negotiateOutput(r)
	if err != nil {
		info, _ := s.serializerFor(mediaJSON)
		out = output{mediaType: mediaJSON, info: info}
	}
	s.writeRaw(w, r, out, code, successStatus(code, nil))
}

// markScheduled sets PodScheduled=True as a binding does upstream, in the
// same write as the node name. An earlier True condition keeps its
// transition time; any other is replaced.
func markScheduled(pod *corev1.Pod, now time.Time) {
	cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now)}
	for i, c := range pod.Status.Conditions {
		if c.Type != corev1.PodScheduled {
			continue
		}
		if c.Status == cond.Status {
			cond.LastTransitionTime = c.LastTransitionTime
		}
		pod.Status.Conditions[i] = cond
		return
	}
	pod.Status.Conditions = append(pod.Status.Conditions, cond)
}
