// Package podgc is the pod garbage collector: it force-deletes terminated
// pods beyond the terminated-pod threshold (evicted first, then oldest),
// pods bound to nodes that no longer exist, and terminating pods that were
// never scheduled, as the upstream pod-garbage-collector does.
package podgc
