package etcd3

import (
	"fmt"

	"github.com/batchlet/batchlet/internal/storage"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// checkPreconditions reports a conflict, worded as Kubernetes words it,
// when p does not hold on the current object.
func checkPreconditions(key string, p *storage.Preconditions, current runtime.Object) error {
	if p == nil {
		return nil
	}
	accessor, err := meta.Accessor(current)
	if err != nil {
		return fmt.Errorf("checking preconditions on %s: %w", key, err)
	}
	if p.UID != nil && *p.UID != accessor.GetUID() {
		return storage.NewError(storage.ErrCodeConflict, key,
			"Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, accessor.GetUID())
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != accessor.GetResourceVersion() {
		return storage.NewError(storage.ErrCodeConflict, key,
			"Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v",
			*p.ResourceVersion, accessor.GetResourceVersion())
	}
	return nil
}
