package job

import (
	"context"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchlet/batchlet/internal/registry"
)

var seedJobs = []string{
	"pi.yaml", "indexed-job.yaml", "job-wq-2.yaml", "job-tmpl.yaml",
	"job-pod-failure-policy-failjob.yaml", "job-pod-failure-policy-ignore.yaml",
}

func TestSeedJobsCreate(t *testing.T) {
	for _, name := range seedJobs {
		t.Run(name, func(t *testing.T) {
			j := created(t, name)
			if j.Generation != 1 {
				t.Errorf("generation = %d, want 1", j.Generation)
			}
			sel := j.Spec.Selector.MatchLabels
			if len(sel) != 1 || sel[batchv1.ControllerUidLabel] != string(testUID) {
				t.Errorf("selector = %v, want only the controller-uid label", sel)
			}
			tl := j.Spec.Template.Labels
			for k, v := range map[string]string{
				batchv1.ControllerUidLabel: string(testUID), LegacyControllerUIDLabel: string(testUID),
				batchv1.JobNameLabel: j.Name, LegacyJobNameLabel: j.Name,
			} {
				if tl[k] != v {
					t.Errorf("template label %s = %q, want %q", k, tl[k], v)
				}
			}
		})
	}
}

func TestCreateLabelsAndStatus(t *testing.T) {
	pi := loadJob(t, "pi.yaml")
	pi.Status.Active = 3
	if errs := admit(pi); len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	if pi.Status.Active != 0 {
		t.Error("status not cleared on create")
	}
	// A Job without labels shows its template's, generated ones included.
	if pi.Labels[batchv1.JobNameLabel] != "pi" || pi.Labels[LegacyControllerUIDLabel] != string(testUID) {
		t.Errorf("job labels = %v", pi.Labels)
	}
	grp := created(t, "job-tmpl.yaml")
	if len(grp.Labels) != 1 || grp.Labels["jobgroup"] != "jobexample" {
		t.Errorf("job labels = %v, want the user's only", grp.Labels)
	}
}

func TestCreateSelectorConflicts(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(j *batchv1.Job)
		want   []string
	}{
		{"user label with wrong uid", func(j *batchv1.Job) {
			j.Spec.Template.Labels = map[string]string{batchv1.ControllerUidLabel: "other"}
		}, []string{
			`spec.template.metadata.labels[batch.kubernetes.io/controller-uid]: Invalid value:`,
			"must be '" + string(testUID) + "'",
			"`selector` does not match template `labels`",
		}},
		{"manual selector matching", func(j *batchv1.Job) {
			j.Spec.ManualSelector = ptr.To(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
			j.Spec.Template.Labels = map[string]string{"app": "pi"}
		}, nil},
		{"manual selector not matching", func(j *batchv1.Job) {
			j.Spec.ManualSelector = ptr.To(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
			j.Spec.Template.Labels = map[string]string{"app": "other"}
		}, []string{"spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`"}},
		{"manual selector missing", func(j *batchv1.Job) {
			j.Spec.ManualSelector = ptr.To(true)
		}, []string{"spec.selector: Required value"}},
		{"generated selector with extra term", func(j *batchv1.Job) {
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
		}, []string{"`selector` does not match template `labels`"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := loadJob(t, "pi.yaml")
			tt.mutate(j)
			wantErrors(t, admit(j), tt.want)
		})
	}
}

func TestPrepareForUpdate(t *testing.T) {
	old := created(t, "pi.yaml")
	old.Status.Active = 1
	s := strategy{}

	same := old.DeepCopy()
	same.Status = batchv1.JobStatus{}
	same.Labels["x"] = "y"
	s.PrepareForUpdate(context.Background(), same, old)
	if same.Generation != 1 || same.Status.Active != 1 {
		t.Errorf("metadata-only update: generation %d, active %d; want 1, 1", same.Generation, same.Status.Active)
	}

	changed := old.DeepCopy()
	changed.Spec.Parallelism = ptr.To[int32](3)
	s.PrepareForUpdate(context.Background(), changed, old)
	if changed.Generation != 2 {
		t.Errorf("spec update: generation %d, want 2", changed.Generation)
	}
}

func TestPrepareForStatusUpdate(t *testing.T) {
	old := created(t, "pi.yaml")
	j := old.DeepCopy()
	j.Spec.Parallelism = ptr.To[int32](9)
	j.Status.Active = 1
	statusStrategy{}.PrepareForStatusUpdate(context.Background(), j, old)
	if *j.Spec.Parallelism != 1 || j.Status.Active != 1 {
		t.Errorf("parallelism %d active %d; want spec kept (1) and status taken (1)", *j.Spec.Parallelism, j.Status.Active)
	}
}

func TestGetAttrs(t *testing.T) {
	s := strategy{}
	_, f, err := s.GetAttrs(&batchv1.Job{})
	if err != nil || f["status.successful"] != "0" || len(f) != 1 {
		t.Fatalf("empty job fields = %v, %v", f, err)
	}
	j := created(t, "pi.yaml")
	j.Status.Succeeded = 3
	l, f, _ := s.GetAttrs(j)
	if f["status.successful"] != "3" || l[batchv1.JobNameLabel] != "pi" {
		t.Errorf("labels %v fields %v", l, f)
	}
	if _, _, err := s.GetAttrs(&batchv1.CronJob{}); err == nil {
		t.Error("GetAttrs accepted a CronJob")
	}
}

func TestResource(t *testing.T) {
	r := Resource()
	if r.Plural != "jobs" || r.Singular != "job" || r.Kind != "Job" || !r.Namespaced ||
		r.GroupVersion.String() != "batch/v1" || len(r.ShortNames) != 0 ||
		len(r.Categories) != 1 || r.Categories[0] != "all" || r.Status == nil || r.Table == nil {
		t.Errorf("resource = %+v", r)
	}
	gc, ok := r.Strategy.(registry.GarbageCollectionPolicy)
	if !ok || gc.DefaultGarbageCollectionPolicy() != metav1.DeletePropagationOrphan {
		t.Error("batch/v1 jobs must orphan by default")
	}
	if _, ok := r.New().(*batchv1.Job); !ok {
		t.Error("New is not a Job")
	}
	if _, ok := r.NewList().(*batchv1.JobList); !ok {
		t.Error("NewList is not a JobList")
	}
}

func TestWrongTypesDoNotPanic(t *testing.T) {
	s, ss := strategy{}, statusStrategy{}
	other := &batchv1.CronJob{}
	ctx := context.Background()
	s.Default(other)
	s.PrepareForCreate(ctx, other)
	s.PrepareForUpdate(ctx, other, other)
	ss.PrepareForStatusUpdate(ctx, other, other)
	if s.Validate(ctx, other) != nil || s.ValidateUpdate(ctx, other, other) != nil || ss.ValidateStatusUpdate(ctx, other, other) != nil {
		t.Error("validation of a foreign type returned errors")
	}
	if _, err := (table{}).Row(other, metav1.Now().Time); err == nil {
		t.Error("Row accepted a CronJob")
	}
}
