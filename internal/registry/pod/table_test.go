package pod

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func running(ready bool) corev1.ContainerStatus {
	return corev1.ContainerStatus{Ready: ready, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

func terminated(reason string, code, signal int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: code, Signal: signal}}}
}

func waiting(reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func TestPodTableStatus(t *testing.T) {
	two := []corev1.Container{{Name: "a"}, {Name: "b"}}
	inits := []corev1.Container{{Name: "i1"}, {Name: "i2"}}
	del := metav1.NewTime(now)
	cases := []struct {
		name     string
		pod      corev1.Pod
		ready    string
		status   string
		restarts string
	}{
		{"pending, no statuses", corev1.Pod{Spec: corev1.PodSpec{Containers: two}, Status: corev1.PodStatus{Phase: corev1.PodPending}}, "0/2", "Pending", "0"},
		{"container creating", corev1.Pod{Spec: corev1.PodSpec{Containers: two}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			ContainerStatuses: []corev1.ContainerStatus{waiting("ContainerCreating"), waiting("ContainerCreating")}}}, "0/2", "ContainerCreating", "0"},
		{"running", corev1.Pod{Spec: corev1.PodSpec{Containers: two}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{running(true), running(true)}}}, "2/2", "Running", "0"},
		{"completed", corev1.Pod{Spec: corev1.PodSpec{Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded,
			ContainerStatuses: []corev1.ContainerStatus{terminated("Completed", 0, 0)}}}, "0/1", "Completed", "0"},
		{"error", corev1.Pod{Spec: corev1.PodSpec{Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{terminated("Error", 1, 0)}}}, "0/1", "Error", "0"},
		{"exit code without reason", corev1.Pod{Spec: corev1.PodSpec{Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{terminated("", 42, 0)}}}, "0/1", "ExitCode:42", "0"},
		{"signal without reason", corev1.Pod{Spec: corev1.PodSpec{Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{terminated("", 137, 9)}}}, "0/1", "Signal:9", "0"},
		{"crash loop with restarts", corev1.Pod{Spec: corev1.PodSpec{Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{RestartCount: 3,
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(now.Add(-5 * time.Minute))}}}}}},
			"0/1", "CrashLoopBackOff", "3 (5m ago)"},
		{"completed next to running and ready", corev1.Pod{Spec: corev1.PodSpec{Containers: two}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{terminated("Completed", 0, 0), running(true)}}}, "1/2", "Running", "0"},
		{"completed next to running, not ready", corev1.Pod{Spec: corev1.PodSpec{Containers: two}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{terminated("Completed", 0, 0), running(true)}}}, "1/2", "NotReady", "0"},
		{"init progress", corev1.Pod{Spec: corev1.PodSpec{InitContainers: inits, Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{terminated("Completed", 0, 0), running(false)},
			ContainerStatuses:     []corev1.ContainerStatus{waiting("PodInitializing")}}}, "0/1", "Init:1/2", "0"},
		{"init waiting on pod initializing", corev1.Pod{Spec: corev1.PodSpec{InitContainers: inits, Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{waiting("PodInitializing"), waiting("PodInitializing")}}}, "0/1", "Init:0/2", "0"},
		{"init error", corev1.Pod{Spec: corev1.PodSpec{InitContainers: inits, Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodFailed,
			InitContainerStatuses: []corev1.ContainerStatus{terminated("Error", 1, 0)}}}, "0/1", "Init:Error", "0"},
		{"init exit code", corev1.Pod{Spec: corev1.PodSpec{InitContainers: inits, Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{terminated("", 2, 0)}}}, "0/1", "Init:ExitCode:2", "0"},
		{"init crash loop", corev1.Pod{Spec: corev1.PodSpec{InitContainers: inits, Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{waiting("CrashLoopBackOff")}}}, "0/1", "Init:CrashLoopBackOff", "0"},
		{"sidecar counts in ready", corev1.Pod{Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "s", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}}, Containers: two[:1]},
			Status: corev1.PodStatus{Phase: corev1.PodRunning,
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "s", Ready: true, Started: ptr.To(true), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}},
				ContainerStatuses:     []corev1.ContainerStatus{running(true)}}}, "2/2", "Running", "0"},
		{"evicted", corev1.Pod{Spec: corev1.PodSpec{Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}}, "0/1", "Evicted", "0"},
		{"terminating", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &del}, Spec: corev1.PodSpec{Containers: two[:1]},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{running(true)}}}, "1/1", "Terminating", "0"},
		{"deleted but terminal", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &del}, Spec: corev1.PodSpec{Containers: two[:1]},
			Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{terminated("Completed", 0, 0)}}}, "0/1", "Completed", "0"},
		{"node lost", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &del}, Spec: corev1.PodSpec{Containers: two[:1]},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Reason: "NodeLost"}}, "0/1", "Unknown", "0"},
		{"scheduling gated", corev1.Pod{Spec: corev1.PodSpec{Containers: two[:1]}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "SchedulingGated"}}}}, "0/1", "SchedulingGated", "0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.pod.Name = "p"
			c.pod.CreationTimestamp = metav1.NewTime(now.Add(-90 * time.Second))
			row, err := table{}.Row(&c.pod, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(row) != len(table{}.Columns()) {
				t.Fatalf("row has %d cells for %d columns", len(row), len(table{}.Columns()))
			}
			if row[1] != c.ready || row[2] != c.status || row[3] != c.restarts || row[4] != "90s" {
				t.Errorf("row = %v, want READY %s STATUS %s RESTARTS %s AGE 90s", row[:5], c.ready, c.status, c.restarts)
			}
		})
	}
}

func TestPodTableWide(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c"}}, ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "x"}}},
		Status: corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "10.0.0.5"}},
			Conditions: []corev1.PodCondition{{Type: "x", Status: corev1.ConditionTrue}}},
	}
	row, err := table{}.Row(pod, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []interface{}{"10.0.0.5", "n1", "<none>", "1/1"}
	for i, w := range want {
		if row[5+i] != w {
			t.Errorf("wide cell %d = %v, want %v", i, row[5+i], w)
		}
	}
	if row[4] != "<unknown>" {
		t.Errorf("age of zero timestamp = %v", row[4])
	}
}
