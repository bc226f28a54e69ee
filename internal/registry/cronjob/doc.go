// Package cronjob is the registry of batch/v1 CronJobs: upstream's
// defaults, validation (schedule syntax, time zones, the job template),
// the /status strategy and the `kubectl get cronjobs` columns.
package cronjob
