package apiserver

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/batchlet/batchlet/internal/storage"
)

// checkNamespaceOpen refuses creation in a namespace that does not exist
// (404) or is being terminated (403), as upstream's NamespaceLifecycle
// admission does. Without a namespaces resource nothing is checked.
func (s *server) checkNamespaceOpen(ctx context.Context, res *resource, name, ns string) error {
	nsRes := s.lookup(schema.GroupVersion{Version: "v1"}, "namespaces")
	if nsRes == nil || isNamespaces(res) {
		return nil
	}
	// Upstream answers this from an informer cache: a local read is as
	// fresh and spares a quorum round on every create.
	key := StorageKey(nsRes.Resource, "", ns)
	obj, err := getLocal(ctx, s.store, key)
	if storage.IsNotFound(err) {
		// A namespace created moments ago may not have reached this member.
		obj, err = s.store.Get(ctx, key)
	}
	if storage.IsNotFound(err) {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, ns)
	}
	if err != nil {
		return storageError(err, nsRes.gr, ns)
	}
	acc, err := accessor(obj)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	terminating := acc.GetDeletionTimestamp() != nil
	if n, ok := obj.(*corev1.Namespace); ok && n.Status.Phase == corev1.NamespaceTerminating {
		terminating = true
	}
	if !terminating {
		return nil
	}
	forbidden := apierrors.NewForbidden(res.gr, name,
		fmt.Errorf("unable to create new content in namespace %s because it is being terminated", ns))
	forbidden.ErrStatus.Details.Causes = append(forbidden.ErrStatus.Details.Causes, metav1.StatusCause{
		Type:    corev1.NamespaceTerminatingCause,
		Message: fmt.Sprintf("namespace %s is being terminated", ns),
		Field:   "metadata.namespace",
	})
	return forbidden
}

// getLocal reads key without a quorum round when the store can.
func getLocal(ctx context.Context, store storage.Interface, key string) (runtime.Object, error) {
	if lg, ok := store.(storage.LocalGetter); ok {
		return lg.GetLocal(ctx, key)
	}
	return store.Get(ctx, key)
}
