package job

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// statusChanges records which status facts an update touches. Most rules
// apply only to what changed, so a controller can still write unrelated
// fields of a Job whose status is already inconsistent (for example just
// after a user scaled an Indexed Job down).
type statusChanges struct {
	finished, complete, failed, failureTarget bool
	successCriteriaMet                        bool
	completedIndexes, failedIndexes           bool
	active, ready, terminating                bool
	startTime, completionTime, uncounted      bool
}

func diffStatus(j, old *batchv1.Job) statusChanges {
	s, o := &j.Status, &old.Status
	return statusChanges{
		finished:           isFinished(j) != isFinished(old),
		complete:           isComplete(j) != isComplete(old),
		failed:             isFailed(j) != isFailed(old),
		failureTarget:      isFailureTarget(j) != isFailureTarget(old),
		successCriteriaMet: isSuccessCriteriaMet(j) != isSuccessCriteriaMet(old),
		completedIndexes:   s.CompletedIndexes != o.CompletedIndexes,
		failedIndexes:      !ptr.Equal(s.FailedIndexes, o.FailedIndexes),
		active:             s.Active != o.Active,
		ready:              !ptr.Equal(s.Ready, o.Ready),
		terminating:        !ptr.Equal(s.Terminating, o.Terminating),
		startTime:          !timeEqual(s.StartTime, o.StartTime),
		completionTime:     !timeEqual(s.CompletionTime, o.CompletionTime),
		uncounted:          !apiequality.Semantic.DeepEqual(s.UncountedTerminatedPods, o.UncountedTerminatedPods),
	}
}

// validateStatusUpdate implements upstream's strengthened Job status
// validation (active since the JobManagedBy feature).
func validateStatusUpdate(j, old *batchv1.Job) field.ErrorList {
	ch := diffStatus(j, old)
	p := field.NewPath("status")
	errs := validateCounters(j, p)
	errs = append(errs, validateConditionCombos(j, ch, p)...)
	errs = append(errs, validateTimes(j, old, ch, p)...)
	errs = append(errs, validateFinished(j, ch, p)...)
	errs = append(errs, validateStatusIndexes(j, ch, p)...)
	errs = append(errs, validateTransitions(j, old, p)...)
	return errs
}

func validateCounters(j *batchv1.Job, p *field.Path) field.ErrorList {
	s := &j.Status
	errs := apivalidation.ValidateNonnegativeField(int64(s.Active), p.Child("active"))
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(s.Succeeded), p.Child("succeeded"))...)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(s.Failed), p.Child("failed"))...)
	if s.Ready != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*s.Ready), p.Child("ready"))...)
	}
	if s.Terminating != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*s.Terminating), p.Child("terminating"))...)
	}
	if u := s.UncountedTerminatedPods; u != nil {
		up := p.Child("uncountedTerminatedPods")
		seen := sets.New[types.UID]()
		check := func(uids []types.UID, lp *field.Path) {
			for i, uid := range uids {
				switch {
				case uid == "":
					errs = append(errs, field.Invalid(lp.Index(i), uid, "must not be empty"))
				case seen.Has(uid):
					errs = append(errs, field.Duplicate(lp.Index(i), uid))
				default:
					seen.Insert(uid)
				}
			}
		}
		check(u.Succeeded, up.Child("succeeded"))
		check(u.Failed, up.Child("failed"))
	}
	return errs
}

func validateConditionCombos(j *batchv1.Job, ch statusChanges, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	cp := p.Child("conditions")
	invalid := func(msg string) { errs = append(errs, field.Invalid(cp, field.OmitValueType{}, msg)) }
	if (ch.complete || ch.failed) && isComplete(j) && isFailed(j) {
		invalid("cannot set Complete=True and Failed=true conditions")
	}
	if (ch.complete || ch.failureTarget) && isComplete(j) && isFailureTarget(j) {
		invalid("cannot set Complete=True and FailureTarget=true conditions")
	}
	if (ch.failed || ch.failedIndexes) && isFailed(j) && !isFailureTarget(j) {
		invalid("cannot set Failed=True condition without the FailureTarget=true condition")
	}
	if (ch.complete || ch.successCriteriaMet) && isComplete(j) && !isSuccessCriteriaMet(j) {
		invalid("cannot set Complete=True condition without the SuccessCriteriaMet=true condition")
	}
	if isSuccessCriteriaMet(j) && isFailed(j) {
		invalid("cannot set SuccessCriteriaMet=True and Failed=true conditions")
	}
	if isSuccessCriteriaMet(j) && isFailureTarget(j) {
		invalid("cannot set SuccessCriteriaMet=True and FailureTarget=true conditions")
	}
	if j.Spec.SuccessPolicy != nil && !isSuccessCriteriaMet(j) && isComplete(j) {
		invalid("cannot set Complete=True for Job with SuccessPolicy unless SuccessCriteriaMet=True")
	}
	return errs
}

func validateTimes(j, old *batchv1.Job, ch statusChanges, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	s, o := &j.Status, &old.Status
	ctp := p.Child("completionTime")
	if (ch.complete || ch.completionTime) && s.CompletionTime != nil && !isComplete(j) {
		errs = append(errs, field.Invalid(ctp, s.CompletionTime, "cannot set completionTime when there is no Complete=True condition"))
	}
	if (ch.complete || ch.completionTime) && s.CompletionTime == nil && isComplete(j) {
		errs = append(errs, field.Required(ctp, "completionTime is required for Complete jobs"))
	}
	if (ch.startTime || ch.completionTime) && s.StartTime != nil && s.CompletionTime != nil && s.CompletionTime.Before(s.StartTime) {
		errs = append(errs, field.Invalid(ctp, s.CompletionTime, "completionTime cannot be set before startTime"))
	}
	if s.CompletionTime != nil && o.CompletionTime != nil && !s.CompletionTime.Equal(o.CompletionTime) {
		errs = append(errs, field.Invalid(ctp, s.CompletionTime, "completionTime cannot be mutated"))
	}
	// A running Job keeps its startTime; resuming (the Suspended condition
	// going from True to anything else in this write) starts it anew.
	resuming := conditionTrue(o.Conditions, batchv1.JobSuspended) && !conditionTrue(s.Conditions, batchv1.JobSuspended)
	if ch.startTime && o.StartTime != nil && !ptr.Deref(j.Spec.Suspend, false) && !resuming {
		errs = append(errs, field.Required(p.Child("startTime"), "startTime cannot be removed for unsuspended job"))
	}
	return errs
}

func validateFinished(j *batchv1.Job, ch statusChanges, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	s := &j.Status
	finished := isFinished(j)
	if (ch.finished || ch.active) && finished && s.Active > 0 {
		errs = append(errs, field.Invalid(p.Child("active"), s.Active, "active>0 is invalid for finished job"))
	}
	if (ch.finished || ch.startTime) && finished && s.StartTime == nil {
		errs = append(errs, field.Required(p.Child("startTime"), "startTime is required for finished job"))
	}
	if (ch.finished || ch.uncounted) && finished && s.UncountedTerminatedPods != nil &&
		len(s.UncountedTerminatedPods.Failed)+len(s.UncountedTerminatedPods.Succeeded) > 0 {
		errs = append(errs, field.Invalid(p.Child("uncountedTerminatedPods"), s.UncountedTerminatedPods, "uncountedTerminatedPods needs to be empty for finished job"))
	}
	if (ch.finished || ch.terminating) && finished && s.Terminating != nil && *s.Terminating > 0 {
		errs = append(errs, field.Invalid(p.Child("terminating"), s.Terminating, "terminating>0 is invalid for finished job"))
	}
	if (ch.ready || ch.active) && s.Ready != nil && *s.Ready > s.Active {
		errs = append(errs, field.Invalid(p.Child("ready"), *s.Ready, "cannot set more ready pods than active"))
	}
	return errs
}

func validateStatusIndexes(j *batchv1.Job, ch statusChanges, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	s := &j.Status
	completions := j.Spec.Completions
	if ch.completedIndexes && completions != nil {
		if _, err := parseIndexes(s.CompletedIndexes, *completions); err != nil {
			errs = append(errs, field.Invalid(p.Child("completedIndexes"), s.CompletedIndexes, fmt.Sprintf("error parsing completedIndexes: %s", err.Error())))
		}
	}
	if ch.failedIndexes && completions != nil && j.Spec.BackoffLimitPerIndex != nil && s.FailedIndexes != nil {
		if _, err := parseIndexes(*s.FailedIndexes, *completions); err != nil {
			errs = append(errs, field.Invalid(p.Child("failedIndexes"), s.FailedIndexes, fmt.Sprintf("error parsing failedIndexes: %s", err.Error())))
		}
	}
	if ch.completedIndexes && s.CompletedIndexes != "" && !isIndexed(&j.Spec) {
		errs = append(errs, field.Invalid(p.Child("completedIndexes"), s.CompletedIndexes, "cannot set non-empty completedIndexes when non-indexed completion mode"))
	}
	if ch.failedIndexes && j.Spec.BackoffLimitPerIndex == nil && s.FailedIndexes != nil {
		errs = append(errs, field.Invalid(p.Child("failedIndexes"), *s.FailedIndexes, "cannot set non-null failedIndexes when backoffLimitPerIndex is null"))
	}
	if (ch.failedIndexes || ch.completedIndexes) && completions != nil && s.FailedIndexes != nil {
		if at, ok := overlap(s.CompletedIndexes, *s.FailedIndexes, *completions); ok {
			errs = append(errs, field.Invalid(p.Child("failedIndexes"), *s.FailedIndexes, fmt.Sprintf("failedIndexes and completedIndexes overlap at index: %d", at)))
		}
	}
	return errs
}

// validateTransitions holds the rules comparing old and new status:
// terminal conditions stay, counters do not go back.
func validateTransitions(j, old *batchv1.Job, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	cp := p.Child("conditions")
	for _, t := range []batchv1.JobConditionType{batchv1.JobFailed, batchv1.JobComplete, batchv1.JobFailureTarget} {
		if conditionTrue(old.Status.Conditions, t) && !conditionTrue(j.Status.Conditions, t) {
			errs = append(errs, field.Invalid(cp, field.OmitValueType{}, fmt.Sprintf("cannot disable the terminal %s=True condition", string(t))))
		}
	}
	if j.Status.Failed < old.Status.Failed {
		errs = append(errs, field.Invalid(p.Child("failed"), j.Status.Failed, "cannot decrease the failed counter"))
	}
	// Elastic Indexed Jobs lose succeeded indexes when scaled down.
	elastic := isIndexed(&j.Spec) && ptr.Equal(j.Spec.Completions, j.Spec.Parallelism)
	if !elastic && j.Status.Succeeded < old.Status.Succeeded {
		errs = append(errs, field.Invalid(p.Child("succeeded"), j.Status.Succeeded, "cannot decrease the succeeded counter"))
	}
	if isSuccessCriteriaMet(old) && !isSuccessCriteriaMet(j) {
		errs = append(errs, field.Invalid(cp, field.OmitValueType{}, "cannot disable the SuccessCriteriaMet=True condition"))
	}
	if isComplete(old) && !isSuccessCriteriaMet(old) && isSuccessCriteriaMet(j) {
		errs = append(errs, field.Invalid(cp, field.OmitValueType{}, "cannot set SuccessCriteriaMet=True for Job already has Complete=true conditions"))
	}
	return errs
}
