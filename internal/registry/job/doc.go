// Package job is the registry of batch/v1 Jobs: upstream's defaults,
// selector generation, validation (spec, updates and the strengthened
// status rules), the /status strategy, field selectors and the
// `kubectl get jobs` columns. The CronJob registry reuses its job
// template validation.
package job
