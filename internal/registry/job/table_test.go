package job

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestTableColumns(t *testing.T) {
	want := []struct {
		name     string
		priority int32
	}{{"Name", 0}, {"Status", 0}, {"Completions", 0}, {"Duration", 0}, {"Age", 0},
		{"Containers", 1}, {"Images", 1}, {"Selector", 1}}
	cols := table{}.Columns()
	if len(cols) != len(want) {
		t.Fatalf("%d columns, want %d", len(cols), len(want))
	}
	for i, w := range want {
		c := cols[i]
		if c.Name != w.name || c.Priority != w.priority || c.Type != "string" || c.Description == "" {
			t.Errorf("column %d = %+v, want %s priority %d", i, c, w.name, w.priority)
		}
	}
	if cols[0].Format != "name" {
		t.Errorf("Name format = %q", cols[0].Format)
	}
}

func TestTableRows(t *testing.T) {
	now := t0.Add(10 * time.Minute)
	at := func(d time.Duration) *metav1.Time { v := metav1.NewTime(t0.Add(d)); return &v }
	tests := []struct {
		name    string
		fixture string
		mutate  func(j *batchv1.Job)
		want    []interface{}
	}{
		{"new", "pi.yaml", func(j *batchv1.Job) {}, []interface{}{"pi", "Running", "0/1", "", "10m"}},
		{"running", "pi.yaml", func(j *batchv1.Job) { j.Status.StartTime = at(5 * time.Second) },
			[]interface{}{"pi", "Running", "0/1", "9m55s", "10m"}},
		{"complete", "pi.yaml", func(j *batchv1.Job) {
			j.Status.StartTime, j.Status.CompletionTime, j.Status.Succeeded = at(0), at(65*time.Second), 1
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet), cond(batchv1.JobComplete)}
		}, []interface{}{"pi", "Complete", "1/1", "65s", "10m"}},
		{"failed keeps growing", "pi.yaml", func(j *batchv1.Job) {
			j.Status.StartTime = at(0)
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget), cond(batchv1.JobFailed)}
		}, []interface{}{"pi", "Failed", "0/1", "10m", "10m"}},
		{"failure target", "pi.yaml", func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget)}
		}, []interface{}{"pi", "FailureTarget", "0/1", "", "10m"}},
		{"success criteria met", "indexed-job.yaml", func(j *batchv1.Job) {
			j.Status.Succeeded = 5
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet)}
		}, []interface{}{"indexed-job", "SuccessCriteriaMet", "5/5", "", "10m"}},
		{"suspended", "pi.yaml", func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuspended)}
		}, []interface{}{"pi", "Suspended", "0/1", "", "10m"}},
		{"resumed", "pi.yaml", func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionFalse}}
		}, []interface{}{"pi", "Running", "0/1", "", "10m"}},
		{"terminating", "pi.yaml", func(j *batchv1.Job) { j.DeletionTimestamp = at(time.Minute) },
			[]interface{}{"pi", "Terminating", "0/1", "", "10m"}},
		{"work queue", "job-wq-2.yaml", func(j *batchv1.Job) {}, []interface{}{"job-wq-2", "Running", "0/1 of 2", "", "10m"}},
		{"work queue single", "job-wq-2.yaml", func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To[int32](1) },
			[]interface{}{"job-wq-2", "Running", "0/1", "", "10m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := created(t, tt.fixture)
			j.CreationTimestamp = t0
			tt.mutate(j)
			row, err := table{}.Row(j, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(row) != 8 {
				t.Fatalf("%d cells, want 8", len(row))
			}
			for i, w := range tt.want {
				if row[i] != w {
					t.Errorf("cell %d = %q, want %q", i, row[i], w)
				}
			}
		})
	}
}

func TestTableWide(t *testing.T) {
	j := created(t, "indexed-job.yaml")
	j.Spec.Template.Spec.Containers = append(j.Spec.Template.Spec.Containers, corev1.Container{Name: "side", Image: "busybox"})
	row, err := table{}.Row(j, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := []interface{}{"worker,side", "docker.io/library/busybox,busybox", "batch.kubernetes.io/controller-uid=" + string(testUID)}
	for i, w := range want {
		if row[5+i] != w {
			t.Errorf("wide cell %d = %q, want %q", 5+i, row[5+i], w)
		}
	}
	if row[4] != "<unknown>" {
		t.Errorf("age of a zero creationTimestamp = %q, want <unknown>", row[4])
	}
}
