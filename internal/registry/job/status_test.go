package job

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

var (
	t0 = metav1.NewTime(time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC))
	t1 = metav1.NewTime(t0.Add(time.Minute))
)

func cond(t batchv1.JobConditionType) batchv1.JobCondition {
	return batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue}
}

// running is a started Job with one active pod.
func running(j *batchv1.Job) {
	j.Status = batchv1.JobStatus{Active: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0), StartTime: &t0,
		UncountedTerminatedPods: &batchv1.UncountedTerminatedPods{}}
}

func complete(s *batchv1.JobStatus) {
	s.Active, s.Succeeded = 0, 1
	s.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet), cond(batchv1.JobComplete)}
	s.CompletionTime = &t1
}

func TestValidateStatusUpdate(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		old     func(j *batchv1.Job)
		mutate  func(s *batchv1.JobStatus)
		want    []string
	}{
		{"first sync", "pi.yaml", nil, func(s *batchv1.JobStatus) {
			s.Active, s.StartTime = 1, &t0
			s.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
		}, nil},
		{"complete properly", "pi.yaml", running, complete, nil},
		{"fail properly", "pi.yaml", running, func(s *batchv1.JobStatus) {
			s.Active, s.Failed = 0, 7
			s.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget), cond(batchv1.JobFailed)}
		}, nil},
		{"negative counters", "pi.yaml", running, func(s *batchv1.JobStatus) {
			s.Active, s.Ready, s.Terminating = -1, ptr.To[int32](-1), ptr.To[int32](-2)
		}, []string{
			"status.active: Invalid value: -1: must be greater than or equal to 0",
			"status.ready: Invalid value: -1: must be greater than or equal to 0",
			"status.terminating: Invalid value: -2: must be greater than or equal to 0",
		}},
		{"uncounted uids", "pi.yaml", running, func(s *batchv1.JobStatus) {
			s.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Succeeded: []types.UID{"a", ""}, Failed: []types.UID{"a"}}
		}, []string{
			`status.uncountedTerminatedPods.succeeded[1]: Invalid value: "": must not be empty`,
			`status.uncountedTerminatedPods.failed[0]: Duplicate value: "a"`,
		}},
		{"failed counter decreases", "pi.yaml", func(j *batchv1.Job) { running(j); j.Status.Failed = 2 },
			func(s *batchv1.JobStatus) { s.Failed = 1 },
			[]string{"status.failed: Invalid value: 1: cannot decrease the failed counter"}},
		{"succeeded counter decreases", "pi.yaml", func(j *batchv1.Job) { running(j); j.Status.Succeeded = 2 },
			func(s *batchv1.JobStatus) { s.Succeeded = 1 },
			[]string{"status.succeeded: Invalid value: 1: cannot decrease the succeeded counter"}},
		{"elastic indexed succeeded decreases", "indexed-job.yaml", func(j *batchv1.Job) {
			j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](3), ptr.To[int32](3)
			running(j)
			j.Status.Succeeded, j.Status.CompletedIndexes = 4, "0-3"
		}, func(s *batchv1.JobStatus) { s.Succeeded, s.CompletedIndexes = 2, "0,1" }, nil},
		{"terminal condition removed", "pi.yaml", func(j *batchv1.Job) { running(j); complete(&j.Status) },
			func(s *batchv1.JobStatus) { s.Conditions = s.Conditions[:1] },
			[]string{"status.conditions: Invalid value: cannot disable the terminal Complete=True condition"}},
		{"failure target removed", "pi.yaml", func(j *batchv1.Job) {
			running(j)
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget)}
		}, func(s *batchv1.JobStatus) { s.Conditions = nil }, []string{
			"cannot disable the terminal FailureTarget=True condition",
		}},
		{"success criteria removed", "indexed-job.yaml", func(j *batchv1.Job) {
			running(j)
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet)}
		}, func(s *batchv1.JobStatus) { s.Conditions = nil },
			[]string{"status.conditions: Invalid value: cannot disable the SuccessCriteriaMet=True condition"}},
		{"failed without failure target", "pi.yaml", running, func(s *batchv1.JobStatus) {
			s.Active = 0
			s.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailed)}
		}, []string{"cannot set Failed=True condition without the FailureTarget=true condition"}},
		{"complete without success criteria", "pi.yaml", running, func(s *batchv1.JobStatus) {
			complete(s)
			s.Conditions = s.Conditions[1:]
		}, []string{"cannot set Complete=True condition without the SuccessCriteriaMet=true condition"}},
		{"complete and failed", "pi.yaml", running, func(s *batchv1.JobStatus) {
			complete(s)
			s.Conditions = append(s.Conditions, cond(batchv1.JobFailureTarget), cond(batchv1.JobFailed))
		}, []string{
			"cannot set Complete=True and Failed=true conditions",
			"cannot set Complete=True and FailureTarget=true conditions",
			"cannot set SuccessCriteriaMet=True and Failed=true conditions",
			"cannot set SuccessCriteriaMet=True and FailureTarget=true conditions",
		}},
		{"complete without completionTime", "pi.yaml", running, func(s *batchv1.JobStatus) {
			complete(s)
			s.CompletionTime = nil
		}, []string{"status.completionTime: Required value: completionTime is required for Complete jobs"}},
		{"completionTime without Complete", "pi.yaml", running, func(s *batchv1.JobStatus) { s.CompletionTime = &t1 },
			[]string{"status.completionTime: Invalid value:", "cannot set completionTime when there is no Complete=True condition"}},
		{"completionTime before startTime", "pi.yaml", func(j *batchv1.Job) { running(j); j.Status.StartTime = &t1 },
			func(s *batchv1.JobStatus) { complete(s); s.CompletionTime = &t0 },
			[]string{"completionTime cannot be set before startTime"}},
		{"completionTime mutated", "pi.yaml", func(j *batchv1.Job) { running(j); complete(&j.Status) },
			func(s *batchv1.JobStatus) { later := metav1.NewTime(t1.Add(time.Hour)); s.CompletionTime = &later },
			[]string{"completionTime cannot be mutated"}},
		{"finished with active pods", "pi.yaml", running, func(s *batchv1.JobStatus) { complete(s); s.Active = 1 },
			[]string{"status.active: Invalid value: 1: active>0 is invalid for finished job"}},
		{"finished with terminating pods", "pi.yaml", running, func(s *batchv1.JobStatus) { complete(s); s.Terminating = ptr.To[int32](1) },
			[]string{"status.terminating: Invalid value: 1: terminating>0 is invalid for finished job"}},
		{"finished without startTime", "pi.yaml", nil, func(s *batchv1.JobStatus) { complete(s); s.CompletionTime = nil; s.StartTime = nil },
			[]string{"status.startTime: Required value: startTime is required for finished job"}},
		{"finished with uncounted pods", "pi.yaml", running, func(s *batchv1.JobStatus) {
			complete(s)
			s.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Succeeded: []types.UID{"u1"}}
		}, []string{"uncountedTerminatedPods needs to be empty for finished job"}},
		{"startTime changed while running", "pi.yaml", running, func(s *batchv1.JobStatus) { s.StartTime = &t1 },
			[]string{"status.startTime: Required value: startTime cannot be removed for unsuspended job"}},
		{"startTime removed while running", "pi.yaml", running, func(s *batchv1.JobStatus) { s.StartTime = nil },
			[]string{"status.startTime: Required value: startTime cannot be removed for unsuspended job"}},
		{"startTime restarted with the Resumed condition", "pi.yaml", func(j *batchv1.Job) {
			running(j)
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionTrue, Reason: "JobSuspended"}}
		}, func(s *batchv1.JobStatus) {
			s.StartTime = &t1
			s.Conditions = []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionFalse, Reason: "JobResumed"}}
		}, nil},
		{"startTime changed after a resume", "pi.yaml", func(j *batchv1.Job) {
			running(j)
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionFalse, Reason: "JobResumed"}}
		}, func(s *batchv1.JobStatus) { s.StartTime = &t1 },
			[]string{"status.startTime: Required value: startTime cannot be removed for unsuspended job"}},
		{"startTime reset by resume while suspended", "pi.yaml", func(j *batchv1.Job) { running(j); j.Spec.Suspend = ptr.To(true) },
			func(s *batchv1.JobStatus) { s.StartTime = nil; s.Active = 0 }, nil},
		{"more ready than active", "pi.yaml", running, func(s *batchv1.JobStatus) { s.Ready = ptr.To[int32](2) },
			[]string{"status.ready: Invalid value: 2: cannot set more ready pods than active"}},
		{"completedIndexes on NonIndexed", "pi.yaml", running, func(s *batchv1.JobStatus) { s.CompletedIndexes = "0" },
			[]string{`status.completedIndexes: Invalid value: "0": cannot set non-empty completedIndexes when non-indexed completion mode`}},
		{"completedIndexes malformed", "indexed-job.yaml", running, func(s *batchv1.JobStatus) { s.CompletedIndexes = "3,1" },
			[]string{"error parsing completedIndexes: non-increasing order, previous: 3, current: 1"}},
		{"failedIndexes without per-index backoff", "indexed-job.yaml", running, func(s *batchv1.JobStatus) { s.FailedIndexes = ptr.To("") },
			[]string{`status.failedIndexes: Invalid value: "": cannot set non-null failedIndexes when backoffLimitPerIndex is null`}},
		{"failedIndexes overlap", "indexed-job.yaml", func(j *batchv1.Job) {
			j.Spec.BackoffLimitPerIndex = ptr.To[int32](1)
			running(j)
		}, func(s *batchv1.JobStatus) { s.CompletedIndexes, s.FailedIndexes = "0-2", ptr.To("2,4") },
			[]string{"failedIndexes and completedIndexes overlap at index: 2"}},
		{"failedIndexes out of range", "indexed-job.yaml", func(j *batchv1.Job) {
			j.Spec.BackoffLimitPerIndex = ptr.To[int32](1)
			running(j)
		}, func(s *batchv1.JobStatus) { s.FailedIndexes = ptr.To("9") },
			[]string{`error parsing failedIndexes: too large index: "9"`}},
		{"unchanged inconsistency is tolerated", "indexed-job.yaml", func(j *batchv1.Job) {
			running(j)
			j.Status.CompletedIndexes = "4"
			j.Spec.Completions = ptr.To[int32](2) // scaled down by the user
		}, func(s *batchv1.JobStatus) { s.Ready = ptr.To[int32](1) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := created(t, tt.fixture)
			if tt.old != nil {
				tt.old(old)
			}
			j := old.DeepCopy()
			tt.mutate(&j.Status)
			ss := statusStrategy{}
			ss.PrepareForStatusUpdate(context.Background(), j, old)
			wantErrors(t, ss.ValidateStatusUpdate(context.Background(), j, old), tt.want)
		})
	}
}

func TestSuccessPolicyCompleteNeedsCriteria(t *testing.T) {
	old := created(t, "indexed-job.yaml")
	old.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr.To[int32](1)}}}
	running(old)
	j := old.DeepCopy()
	complete(&j.Status)
	j.Status.Conditions = j.Status.Conditions[1:]
	wantErrors(t, statusStrategy{}.ValidateStatusUpdate(context.Background(), j, old),
		[]string{"cannot set Complete=True for Job with SuccessPolicy unless SuccessCriteriaMet=True"})
}
