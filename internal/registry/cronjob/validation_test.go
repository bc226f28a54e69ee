package cronjob

import (
	"context"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestSeedCronJobsCreate(t *testing.T) {
	for _, name := range []string{"hello.yaml", "hello-every-minute.yaml"} {
		cj := created(t, name)
		if cj.Generation != 1 {
			t.Errorf("%s: generation %d", name, cj.Generation)
		}
	}
}

func TestSchedules(t *testing.T) {
	valid := []string{
		"* * * * *", "*/1 * * * *", "0-23/2 * * * *", "0 0-23/2 * * *", "*/1 * * * ?",
		"0 9 * jan-mar mon-fri", "0 0 1 JAN *", "5 4 * * SUN", "0 0 30 2 *",
		"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly", "@every 5m",
		"15 10 * * 0,6", "0/15 * * * *",
	}
	for _, s := range valid {
		cj := load(t, "hello.yaml")
		cj.Spec.Schedule = s
		if errs := admit(cj); len(errs) > 0 {
			t.Errorf("schedule %q: %v", s, errs.ToAggregate())
		}
	}
	invalid := []struct{ schedule, want string }{
		{"* * * * 7", `spec.schedule: Invalid value: "* * * * 7": end of range (7) above maximum (6): 7`},
		{"bad", `spec.schedule: Invalid value: "bad": expected exactly 5 fields, found 1: [bad]`},
		{"60 * * * *", `end of range (60) above maximum (59): 60`},
		{"*/0 * * * *", `spec.schedule: Invalid value: "*/0 * * * *"`},
		{"* * * * * *", "expected exactly 5 fields, found 6"},
		{"@every", `spec.schedule: Invalid value: "@every"`},
		{"TZ=UTC * * * * *", `spec.schedule: Invalid value: "TZ=UTC * * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead`},
		{"CRON_TZ=UTC 0 * * * *", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"},
		{"", "spec.schedule: Required value"},
	}
	for _, tt := range invalid {
		cj := load(t, "hello.yaml")
		cj.Spec.Schedule = tt.schedule
		errs := admit(cj)
		if len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), tt.want) {
			t.Errorf("schedule %q: errors %v, want %q", tt.schedule, errs.ToAggregate(), tt.want)
		}
	}
}

func TestParseScheduleNeverPanics(t *testing.T) {
	for _, s := range []string{"TZ=", "CRON_TZ=", "TZ=Nowhere/Land * * * * *", "- - - - -", "*/ * * * *", "1-2-3 * * * *"} {
		if _, err := ParseSchedule(s); err == nil {
			t.Errorf("ParseSchedule(%q) succeeded", s)
		}
	}
}

func TestValidateCronJob(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(cj *batchv1.CronJob)
		want   []string
	}{
		{"time zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("Asia/Shanghai") }, nil},
		{"legacy time zone name", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("Etc/GMT+1") }, nil},
		{"bad time zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("bad-time-zone") },
			[]string{`spec.timeZone: Invalid value: "bad-time-zone": unknown time zone bad-time-zone`}},
		{"empty time zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("") },
			[]string{`spec.timeZone: Invalid value: "": timeZone must be nil or non-empty string`}},
		{"Local", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("local") },
			[]string{"timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"}},
		{"path tricks", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("../etc/passwd") },
			[]string{`spec.timeZone: Invalid value: "../etc/passwd": unknown time zone ../etc/passwd`}},
		{"name too long", func(cj *batchv1.CronJob) { cj.Name = strings.Repeat("h", 53) },
			[]string{`metadata.name: Invalid value: "` + strings.Repeat("h", 53) + `": must be no more than 52 characters`}},
		{"name of 52", func(cj *batchv1.CronJob) { cj.Name = strings.Repeat("h", 52) }, nil},
		{"negative numbers", func(cj *batchv1.CronJob) {
			cj.Spec.StartingDeadlineSeconds = ptr.To[int64](-1)
			cj.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](-1)
			cj.Spec.FailedJobsHistoryLimit = ptr.To[int32](-1)
		}, []string{
			"spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0",
			"spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
			"spec.failedJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
		}},
		{"concurrency policy", func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = "Sometimes" },
			[]string{`spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"`}},
		{"job template selector", func(cj *batchv1.CronJob) {
			cj.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
			cj.Spec.JobTemplate.Spec.ManualSelector = ptr.To(true)
		}, []string{
			"spec.jobTemplate.spec.selector: Invalid value:", "`selector` will be auto-generated",
			`spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: "nil", "false"`,
		}},
		{"job template spec rules", func(cj *batchv1.CronJob) {
			cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
			cj.Spec.JobTemplate.Spec.Parallelism = ptr.To[int32](-1)
		}, []string{
			`spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`,
			"spec.jobTemplate.spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
		}},
		{"job template pod validation", func(cj *batchv1.CronJob) { cj.Spec.JobTemplate.Spec.Template.Spec.Containers = nil },
			[]string{"spec.jobTemplate.spec.template.spec.containers: Required value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cj := load(t, "hello.yaml")
			tt.mutate(cj)
			wantErrors(t, admit(cj), tt.want)
		})
	}
}

func TestValidateUpdate(t *testing.T) {
	tests := []struct {
		name   string
		old    func(cj *batchv1.CronJob)
		mutate func(cj *batchv1.CronJob)
		want   []string
	}{
		{"schedule change", nil, func(cj *batchv1.CronJob) { cj.Spec.Schedule = "0 */2 * * *" }, nil},
		{"adding TZ", nil, func(cj *batchv1.CronJob) { cj.Spec.Schedule = "TZ=UTC 0 * * * *" },
			[]string{"cannot use TZ or CRON_TZ in schedule, use timeZone field instead"}},
		{"keeping a legacy TZ", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "TZ=UTC 0 * * * *" },
			func(cj *batchv1.CronJob) { cj.Spec.Schedule = "TZ=UTC 5 * * * *" }, nil},
		{"legacy TZ with timeZone", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "TZ=UTC 0 * * * *" },
			func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("UTC") },
			[]string{"cannot use both timeZone field and TZ or CRON_TZ in schedule"}},
		{"long name kept", func(cj *batchv1.CronJob) { cj.Name = strings.Repeat("h", 60) },
			func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptr.To(true) }, nil},
		{"bad time zone", nil, func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("Mars/Olympus") },
			[]string{"unknown time zone Mars/Olympus"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := created(t, "hello.yaml")
			if tt.old != nil {
				tt.old(old)
			}
			cj := old.DeepCopy()
			tt.mutate(cj)
			s := strategy{}
			s.Default(cj)
			s.PrepareForUpdate(context.Background(), cj, old)
			wantErrors(t, s.ValidateUpdate(context.Background(), cj, old), tt.want)
		})
	}
}
