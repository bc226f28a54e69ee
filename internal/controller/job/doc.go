// Package job is the batch/v1 Job controller: it creates and deletes the
// pods of each Job and keeps the Job's status, following the upstream
// kube-controller-manager semantics (finalizer-based pod accounting,
// two-step terminal conditions, pod failure backoff, Indexed Jobs, pod
// failure and success policies, suspend and managedBy).
//
// Each sync reads like a recipe: gather the Job and its pods from the
// informer caches, decide with pure functions over that snapshot, then act
// (create or delete pods, patch finalizers, write the status).
package job
