package cronjob

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchlet/batchlet/internal/registry"
)

func TestResource(t *testing.T) {
	r := Resource()
	if r.Plural != "cronjobs" || r.Singular != "cronjob" || r.Kind != "CronJob" || r.ListKind != "CronJobList" ||
		!r.Namespaced || r.GroupVersion.String() != "batch/v1" || len(r.ShortNames) != 1 || r.ShortNames[0] != "cj" ||
		len(r.Categories) != 1 || r.Categories[0] != "all" || r.Status == nil || r.Table == nil {
		t.Errorf("resource = %+v", r)
	}
	gc, ok := r.Strategy.(registry.GarbageCollectionPolicy)
	if !ok || gc.DefaultGarbageCollectionPolicy() != metav1.DeletePropagationBackground {
		t.Error("cronjobs delete their Jobs in the background by default")
	}
	if _, ok := r.New().(*batchv1.CronJob); !ok {
		t.Error("New is not a CronJob")
	}
}

func TestStrategies(t *testing.T) {
	ctx := context.Background()
	cj := load(t, "hello.yaml")
	cj.Status.Active = []corev1.ObjectReference{{Name: "x"}}
	if errs := admit(cj); len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	if len(cj.Status.Active) != 0 || cj.Generation != 1 {
		t.Errorf("create: status %+v generation %d", cj.Status, cj.Generation)
	}
	cj.Status.LastScheduleTime = &metav1.Time{Time: time.Unix(60, 0)}

	s := strategy{}
	upd := cj.DeepCopy()
	upd.Status = batchv1.CronJobStatus{}
	upd.Labels = map[string]string{"a": "b"}
	s.PrepareForUpdate(ctx, upd, cj)
	if upd.Generation != 1 || upd.Status.LastScheduleTime == nil {
		t.Errorf("metadata update: generation %d, status %+v", upd.Generation, upd.Status)
	}
	upd.Spec.Suspend = ptr.To(true)
	s.PrepareForUpdate(ctx, upd, cj)
	if upd.Generation != 2 {
		t.Errorf("spec update: generation %d, want 2", upd.Generation)
	}

	st := cj.DeepCopy()
	st.Spec.Schedule = "0 0 * * *"
	st.Status.Active = []corev1.ObjectReference{{Name: "hello-1"}}
	statusStrategy{}.PrepareForStatusUpdate(ctx, st, cj)
	if st.Spec.Schedule != "* * * * *" || len(st.Status.Active) != 1 {
		t.Errorf("status update: schedule %q active %v", st.Spec.Schedule, st.Status.Active)
	}
	if errs := (statusStrategy{}).ValidateStatusUpdate(ctx, st, cj); len(errs) > 0 {
		t.Errorf("status validation: %v", errs)
	}

	l, f, err := s.GetAttrs(upd)
	if err != nil || l["a"] != "b" || len(f) != 0 {
		t.Errorf("GetAttrs = %v %v %v", l, f, err)
	}
	if _, _, err := s.GetAttrs(&batchv1.Job{}); err == nil {
		t.Error("GetAttrs accepted a Job")
	}
	// Foreign types are ignored, never a panic.
	other := &batchv1.Job{}
	s.Default(other)
	s.PrepareForCreate(ctx, other)
	s.PrepareForUpdate(ctx, other, other)
	statusStrategy{}.PrepareForStatusUpdate(ctx, other, other)
	if s.Validate(ctx, other) != nil || s.ValidateUpdate(ctx, other, other) != nil {
		t.Error("foreign type validated with errors")
	}
}

func TestTable(t *testing.T) {
	cols := table{}.Columns()
	wantCols := []struct {
		name, typ string
		prio      int32
	}{{"Name", "string", 0}, {"Schedule", "string", 0}, {"Timezone", "string", 0}, {"Suspend", "boolean", 0},
		{"Active", "integer", 0}, {"Last Schedule", "string", 0}, {"Age", "string", 0},
		{"Containers", "string", 1}, {"Images", "string", 1}, {"Selector", "string", 1}}
	if len(cols) != len(wantCols) {
		t.Fatalf("%d columns", len(cols))
	}
	for i, w := range wantCols {
		if cols[i].Name != w.name || cols[i].Type != w.typ || cols[i].Priority != w.prio || cols[i].Description == "" {
			t.Errorf("column %d = %+v", i, cols[i])
		}
	}

	now := time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		mutate func(cj *batchv1.CronJob)
		want   []interface{}
	}{
		{"new", func(cj *batchv1.CronJob) {},
			[]interface{}{"hello", "* * * * *", "<none>", "False", int64(0), "<none>", "5m", "hello", "busybox:1.28", "<none>"}},
		{"active", func(cj *batchv1.CronJob) {
			cj.Spec.TimeZone = ptr.To("Etc/UTC")
			cj.Status.Active = []corev1.ObjectReference{{Name: "hello-1"}, {Name: "hello-2"}}
			cj.Status.LastScheduleTime = &metav1.Time{Time: now.Add(-30 * time.Second)}
		}, []interface{}{"hello", "* * * * *", "Etc/UTC", "False", int64(2), "30s", "5m"}},
		{"suspended", func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptr.To(true) },
			[]interface{}{"hello", "* * * * *", "<none>", "True"}},
		{"suspend unset", func(cj *batchv1.CronJob) { cj.Spec.Suspend = nil },
			[]interface{}{"hello", "* * * * *", "<none>", "<unset>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cj := created(t, "hello.yaml")
			cj.CreationTimestamp = metav1.NewTime(now.Add(-5 * time.Minute))
			tt.mutate(cj)
			row, err := table{}.Row(cj, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(row) != len(cols) {
				t.Fatalf("%d cells", len(row))
			}
			for i, w := range tt.want {
				if row[i] != w {
					t.Errorf("cell %d = %#v, want %#v", i, row[i], w)
				}
			}
		})
	}
	if _, err := (table{}).Row(&batchv1.Job{}, now); err == nil {
		t.Error("Row accepted a Job")
	}
}
