package namespace

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/discovery"
)

// deletable is a namespaced resource the controller can list and delete.
type deletable struct {
	gvr        schema.GroupVersionResource
	collection bool // supports deletecollection
}

// namespacedResources discovers the namespaced resources to empty. A
// partial discovery failure still returns what was found.
func (c *Controller) namespacedResources() ([]deletable, error) {
	lists, discErr := discovery.ServerPreferredNamespacedResources(c.discovery)
	var out []deletable
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			discErr = errors.Join(discErr, fmt.Errorf("parsing group version %q: %w", l.GroupVersion, err))
			continue
		}
		for _, r := range l.APIResources {
			verbs := sets.New[string](r.Verbs...)
			if !r.Namespaced || !verbs.Has("list") || !(verbs.Has("deletecollection") || verbs.Has("delete")) {
				continue
			}
			out = append(out, deletable{gvr: gv.WithResource(r.Name), collection: verbs.Has("deletecollection")})
		}
	}
	return out, discErr
}

// deleteContent deletes everything in namespace ns and reports what is
// left. Objects already being deleted are left to finish (graceful pods,
// finalizers): they count as remaining.
func (c *Controller) deleteContent(ctx context.Context, ns string) deletionReport {
	r := deletionReport{remaining: map[string]int{}, finalizers: map[string]int{}}
	resources, err := c.namespacedResources()
	r.discoveryErr = err
	for _, res := range resources {
		client := c.metadata.Resource(res.gvr).Namespace(ns)
		if err := c.deleteAll(ctx, res, ns); err != nil {
			r.deleteFailures = append(r.deleteFailures, fmt.Sprintf("%s: %v", res.gvr.GroupResource(), err))
			continue
		}
		list, err := client.List(ctx, metav1.ListOptions{})
		if err != nil {
			if !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
				r.deleteFailures = append(r.deleteFailures, fmt.Sprintf("%s: %v", res.gvr.GroupResource(), err))
			}
			continue
		}
		if n := len(list.Items); n > 0 {
			r.remaining[res.gvr.GroupResource().String()] += n
		}
		for _, item := range list.Items {
			for _, f := range item.Finalizers {
				r.finalizers[f]++
			}
		}
	}
	if len(r.remaining) == 0 {
		r.remaining = nil
	}
	if len(r.finalizers) == 0 {
		r.finalizers = nil
	}
	return r
}

func (c *Controller) deleteAll(ctx context.Context, res deletable, ns string) error {
	client := c.metadata.Resource(res.gvr).Namespace(ns)
	if res.collection {
		err := client.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			return nil
		}
		if !apierrors.IsMethodNotSupported(err) {
			return err
		}
	}
	list, err := client.List(ctx, metav1.ListOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	for _, item := range list.Items {
		if item.DeletionTimestamp != nil {
			continue
		}
		if err := client.Delete(ctx, item.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}
