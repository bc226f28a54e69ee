package garbagecollector

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// ownerState classifies one owner reference of a dependent.
type ownerState int

const (
	// ownerSolid exists and is not waiting for its dependents.
	ownerSolid ownerState = iota
	// ownerDangling no longer exists (by UID).
	ownerDangling
	// ownerWaiting is being deleted in the foreground.
	ownerWaiting
)

// verdictKind is what to do with a dependent.
type verdictKind int

const (
	keep verdictKind = iota
	// dropRefs removes dangling and waiting references from an object that
	// still has a solid owner.
	dropRefs
	// deleteObject deletes the object.
	deleteObject
)

// verdict is the decision for one dependent.
type verdict struct {
	kind verdictKind
	// refs are the references to remove (dropRefs).
	refs []metav1.OwnerReference
	// policy is the propagation policy for deleteObject.
	policy metav1.DeletionPropagation
	// unblock lists waiting owners whose blockOwnerDeletion must be cleared
	// before a foreground delete, so that an owner and a dependent both
	// deleting in the foreground cannot wait on each other forever.
	unblock []metav1.OwnerReference
}

// decideDependent decides the fate of an object not being deleted from the
// states of its owners (same order as n.owners), whether it has dependents
// of its own and whether one of those is itself deleting in the foreground.
func decideDependent(n *node, states []ownerState, hasDependents, dependentInForeground bool) verdict {
	var solid, dangling, waiting []metav1.OwnerReference
	for i, o := range n.owners {
		switch states[i] {
		case ownerSolid:
			solid = append(solid, o)
		case ownerDangling:
			dangling = append(dangling, o)
		case ownerWaiting:
			waiting = append(waiting, o)
		}
	}
	switch {
	case len(n.owners) == 0:
		return verdict{kind: keep}
	case len(solid) > 0:
		if len(dangling)+len(waiting) == 0 {
			return verdict{kind: keep}
		}
		return verdict{kind: dropRefs, refs: append(dangling, waiting...)}
	case len(waiting) > 0 && hasDependents:
		// Delete in the foreground so that the waiting owner also waits
		// for this object's own dependents.
		var unblock []metav1.OwnerReference
		for _, o := range waiting {
			if dependentInForeground && ptr.Deref(o.BlockOwnerDeletion, false) {
				unblock = append(unblock, o)
			}
		}
		return verdict{kind: deleteObject, policy: metav1.DeletePropagationForeground, unblock: unblock}
	}
	policy := metav1.DeletePropagationBackground
	switch {
	case n.hasFinalizer(metav1.FinalizerOrphanDependents):
		policy = metav1.DeletePropagationOrphan
	case n.hasFinalizer(metav1.FinalizerDeleteDependents):
		policy = metav1.DeletePropagationForeground
	}
	return verdict{kind: deleteObject, policy: policy}
}

// blockingDependents returns the dependents whose reference to owner uid
// has blockOwnerDeletion set.
func blockingDependents(owner *node, deps []*node) []*node {
	var out []*node
	for _, d := range deps {
		for _, o := range d.owners {
			if o.UID == owner.key.uid && ptr.Deref(o.BlockOwnerDeletion, false) {
				out = append(out, d)
				break
			}
		}
	}
	return out
}
