package event

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		ev   corev1.Event
		want string
	}{
		{"recorder event", corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "default"},
			InvolvedObject: corev1.ObjectReference{Kind: "Job", Namespace: "default", Name: "pi"}, Reason: "SuccessfulCreate", Type: "Normal"}, ""},
		{"cluster object in default", corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "default"},
			InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: "n1"}}, ""},
		{"namespace mismatch", corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "a"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "b"}}, `involvedObject.namespace: Invalid value: "b": does not match event.namespace`},
		{"new style without reporter", corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "a"}, EventTime: metav1.NowMicro(),
			Action: "x", Reason: "y", Type: "Normal", ReportingInstance: "i"}, "reportingComponent: Required value"},
	}
	for _, c := range cases {
		errs := strategy{}.Validate(context.Background(), &c.ev)
		got := ""
		if len(errs) > 0 {
			got = errs[0].Error()
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestTableAndFields(t *testing.T) {
	now := time.Now()
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "pi.1"},
		InvolvedObject: corev1.ObjectReference{Kind: "Job", Name: "pi", Namespace: "default", UID: "u1"},
		Reason:         "Completed", Type: "Normal", Message: "Job completed\n",
		Source:         corev1.EventSource{Component: "job-controller"},
		FirstTimestamp: metav1.NewTime(now.Add(-5 * time.Minute)), LastTimestamp: metav1.NewTime(now.Add(-time.Minute)), Count: 2,
	}
	row, err := table{}.Row(ev, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []interface{}{"60s", "Normal", "Completed", "job/pi", "", "job-controller", "Job completed", "5m", int64(2), "pi.1"}
	for i := range want {
		if row[i] != want[i] {
			t.Errorf("cell %d = %#v, want %#v", i, row[i], want[i])
		}
	}
	single := &corev1.Event{EventTime: metav1.NewMicroTime(now.Add(-3 * time.Second)), ReportingController: "sched", ReportingInstance: "h"}
	row, _ = table{}.Row(single, now)
	if row[0] != "3s" || row[7] != "3s" || row[8] != int64(1) || row[5] != "sched, h" {
		t.Errorf("new-style row = %v", row)
	}
	_, f, _ := strategy{}.GetAttrs(ev)
	if f["involvedObject.kind"] != "Job" || f["involvedObject.uid"] != "u1" || f["involvedObject.name"] != "pi" ||
		f["involvedObject.namespace"] != "default" || f["source"] != "job-controller" {
		t.Errorf("fields = %v", f)
	}
}
