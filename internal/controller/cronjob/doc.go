// Package cronjob is the batch/v1 CronJob controller: it creates a Job for
// each schedule slot, honours the concurrency policy, the starting deadline,
// suspend and time zones, keeps status.active, lastScheduleTime and
// lastSuccessfulTime, and prunes finished Jobs beyond the history limits,
// following the upstream kube-controller-manager semantics.
//
// A sync gathers the CronJob and the Jobs it controls from the informer
// caches, decides with pure functions (schedule arithmetic, history
// pruning, the start decision), then acts: deletes, one create, one status
// write. The controller never polls: after each sync the key is requeued
// for the next schedule slot, computed from the injected clock.
package cronjob
