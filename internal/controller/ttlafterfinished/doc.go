// Package ttlafterfinished deletes finished Jobs whose
// spec.ttlSecondsAfterFinished has expired, as the upstream
// ttl-after-finished controller does: the time is measured from the
// Complete or Failed condition's lastTransitionTime, the Job is re-read
// from the API before deletion, and it is deleted in the foreground with a
// UID precondition so that its pods go first.
package ttlafterfinished
