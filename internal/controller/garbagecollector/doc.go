// Package garbagecollector deletes objects whose owners are gone and
// executes the Foreground and Orphan propagation policies, as the upstream
// garbage collector does. It watches the metadata of every served resource,
// keeps a graph of owner references keyed by UID, and for each object
// decides from its owners:
//   - an owner that no longer exists (confirmed by a live GET comparing
//     the UID) makes the reference dangling; an object whose owners are
//     all dangling or waiting for their dependents is deleted, with the
//     policy its own finalizers ask for (Background by default);
//   - an owner being deleted with the foregroundDeletion finalizer waits
//     until no dependent with blockOwnerDeletion remains, then loses the
//     finalizer;
//   - an owner being deleted with the orphan finalizer has its reference
//     removed from every dependent, then loses the finalizer.
package garbagecollector
