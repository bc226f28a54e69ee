// Package scheduler binds pending pods to nodes, as kube-scheduler's
// default profile does for the cases batch workloads need: node
// readiness, cordon, taints and tolerations, nodeSelector and required
// node affinity, and resource fit (cpu, memory, pod count), spreading
// pods by least-allocated scoring.
//
// The decision is a pure function of a snapshot (filter and score); the
// Scheduler keeps that snapshot current from informers, reserves the
// chosen node at once so parallel workers never overcommit it, and binds
// through the pods/binding subresource.
package scheduler
