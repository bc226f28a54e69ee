package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"k8s.io/klog/v2"
)

// process handles one object: an owner being deleted with the orphan or
// foregroundDeletion finalizer, or a dependent whose owners may be gone.
func (c *Controller) process(ctx context.Context, key objectKey) error {
	n, ok := c.graph.get(key.uid)
	if !ok {
		return nil
	}
	if n.deleting {
		switch {
		case n.hasFinalizer(metav1.FinalizerOrphanDependents):
			return c.orphanDependents(ctx, n)
		case n.hasFinalizer(metav1.FinalizerDeleteDependents):
			return c.finishForeground(ctx, n)
		}
		return nil
	}
	if len(n.owners) == 0 {
		return nil
	}
	v, err := c.judge(ctx, n, false)
	if err != nil || v.kind == keep {
		return err
	}
	// About to change something: decide again on the live object.
	live, err := c.resource(n.key).Get(ctx, n.key.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting %s %s/%s: %w", n.key.resource.Resource, n.key.namespace, n.key.name, err)
	}
	if live.UID != n.key.uid || live.DeletionTimestamp != nil {
		return nil
	}
	n.owners, n.finalizers, n.resourceVersion = live.OwnerReferences, live.Finalizers, live.ResourceVersion
	if v, err = c.judge(ctx, n, true); err != nil {
		return err
	}
	logger := klog.FromContext(ctx)
	switch v.kind {
	case dropRefs:
		logger.V(2).Info("Removing dangling owner references", "resource", n.key.resource, "object", klog.KRef(n.key.namespace, n.key.name))
		return c.removeOwnerRefs(ctx, n, v.refs)
	case deleteObject:
		if len(v.unblock) > 0 {
			if err := c.unblockOwnerRefs(ctx, n, v.unblock); err != nil {
				return err
			}
		}
		logger.V(2).Info("Deleting object whose owners are gone", "resource", n.key.resource, "object", klog.KRef(n.key.namespace, n.key.name), "propagationPolicy", v.policy)
		err := c.resource(n.key).Delete(ctx, n.key.name, deleteOptions(n.key, v.policy))
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("deleting %s %s/%s: %w", n.key.resource.Resource, n.key.namespace, n.key.name, err)
		}
	}
	return nil
}

// judge classifies n's owners and decides. With live set, owners missing
// from the graph are looked up with a GET; otherwise a missing owner is
// presumed dangling (to be confirmed live before acting).
func (c *Controller) judge(ctx context.Context, n *node, live bool) (verdict, error) {
	states := make([]ownerState, len(n.owners))
	for i, ref := range n.owners {
		s, err := c.ownerState(ctx, n, ref, live)
		if err != nil {
			return verdict{}, err
		}
		states[i] = s
	}
	deps := c.graph.dependentsOf(n.key.uid)
	inForeground := false
	for _, d := range deps {
		inForeground = inForeground || (d.deleting && d.hasFinalizer(metav1.FinalizerDeleteDependents))
	}
	return decideDependent(n, states, len(deps) > 0, inForeground), nil
}

func (c *Controller) ownerState(ctx context.Context, n *node, ref metav1.OwnerReference, live bool) (ownerState, error) {
	if owner, ok := c.graph.get(ref.UID); ok {
		return stateOf(owner.deleting, owner.finalizers), nil
	}
	if !live {
		return ownerDangling, nil
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return ownerSolid, fmt.Errorf("owner reference %s/%s: %w", ref.APIVersion, ref.Kind, err)
	}
	mapping, err := c.mapper.RESTMapping(gv.WithKind(ref.Kind).GroupKind(), gv.Version)
	if err != nil {
		return ownerSolid, fmt.Errorf("resolving owner kind %s: %w", ref.Kind, err)
	}
	ns := ""
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ns = n.key.namespace
	}
	obj, err := c.metadata.Resource(mapping.Resource).Namespace(ns).Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return ownerDangling, nil
	case err != nil:
		return ownerSolid, fmt.Errorf("getting owner %s %s: %w", ref.Kind, ref.Name, err)
	case obj.UID != ref.UID:
		return ownerDangling, nil
	}
	return stateOf(obj.DeletionTimestamp != nil, obj.Finalizers), nil
}

func stateOf(deleting bool, finalizers []string) ownerState {
	if deleting {
		for _, f := range finalizers {
			if f == metav1.FinalizerDeleteDependents {
				return ownerWaiting
			}
		}
	}
	return ownerSolid
}

// orphanDependents removes the owner's reference from every dependent,
// then the orphan finalizer from the owner.
func (c *Controller) orphanDependents(ctx context.Context, owner *node) error {
	for _, d := range c.graph.dependentsOf(owner.key.uid) {
		ref := metav1.OwnerReference{UID: owner.key.uid}
		if err := c.removeOwnerRefs(ctx, d, []metav1.OwnerReference{ref}); err != nil {
			return err
		}
	}
	return c.removeFinalizer(ctx, owner, metav1.FinalizerOrphanDependents)
}

// finishForeground removes the foregroundDeletion finalizer once no
// blocking dependent remains, and meanwhile makes sure every dependent is
// looked at (they see a waiting owner and are deleted).
func (c *Controller) finishForeground(ctx context.Context, owner *node) error {
	deps := c.graph.dependentsOf(owner.key.uid)
	if len(blockingDependents(owner, deps)) == 0 {
		return c.removeFinalizer(ctx, owner, metav1.FinalizerDeleteDependents)
	}
	for _, d := range deps {
		if !d.deleting {
			c.queue.Add(d.key)
		}
	}
	return nil
}

// metadataPatch is a JSON merge patch of metadata; the resourceVersion
// makes it conditional on the version the decision was made on.
type metadataPatch struct {
	Metadata struct {
		ResourceVersion string                   `json:"resourceVersion,omitempty"`
		OwnerReferences *[]metav1.OwnerReference `json:"ownerReferences,omitempty"`
		Finalizers      *[]string                `json:"finalizers,omitempty"`
	} `json:"metadata"`
}

func (c *Controller) patch(ctx context.Context, n *node, p metadataPatch) error {
	p.Metadata.ResourceVersion = n.resourceVersion
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encoding patch: %w", err)
	}
	_, err = c.resource(n.key).Patch(ctx, n.key.name, types.MergePatchType, data, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("patching %s %s/%s: %w", n.key.resource.Resource, n.key.namespace, n.key.name, err)
	}
	return nil
}

func (c *Controller) removeOwnerRefs(ctx context.Context, n *node, drop []metav1.OwnerReference) error {
	gone := map[types.UID]bool{}
	for _, r := range drop {
		gone[r.UID] = true
	}
	kept := []metav1.OwnerReference{}
	for _, r := range n.owners {
		if !gone[r.UID] {
			kept = append(kept, r)
		}
	}
	if len(kept) == len(n.owners) {
		return nil
	}
	var p metadataPatch
	p.Metadata.OwnerReferences = &kept
	return c.patch(ctx, n, p)
}

func (c *Controller) unblockOwnerRefs(ctx context.Context, n *node, refs []metav1.OwnerReference) error {
	unblock := map[types.UID]bool{}
	for _, r := range refs {
		unblock[r.UID] = true
	}
	owners := make([]metav1.OwnerReference, len(n.owners))
	for i, r := range n.owners {
		owners[i] = *r.DeepCopy()
		if unblock[r.UID] {
			f := false
			owners[i].BlockOwnerDeletion = &f
		}
	}
	var p metadataPatch
	p.Metadata.OwnerReferences = &owners
	if err := c.patch(ctx, n, p); err != nil {
		return err
	}
	// The delete that follows carries a UID precondition only.
	n.owners = owners
	return nil
}

func (c *Controller) removeFinalizer(ctx context.Context, n *node, finalizer string) error {
	kept := []string{}
	for _, f := range n.finalizers {
		if f != finalizer {
			kept = append(kept, f)
		}
	}
	var p metadataPatch
	p.Metadata.Finalizers = &kept
	return c.patch(ctx, n, p)
}

func (c *Controller) resource(k objectKey) metadata.ResourceInterface {
	return c.metadata.Resource(k.resource).Namespace(k.namespace)
}
