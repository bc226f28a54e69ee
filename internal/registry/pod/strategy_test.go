package pod

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

func TestCheckGracefulDelete(t *testing.T) {
	bound := func(phase corev1.PodPhase, grace *int64) *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n", TerminationGracePeriodSeconds: grace}, Status: corev1.PodStatus{Phase: phase}}
	}
	cases := []struct {
		name      string
		pod       *corev1.Pod
		requested *int64
		grace     int64
		graceful  bool
	}{
		{"bound running uses spec", bound(corev1.PodRunning, ptr.To(int64(30))), nil, 30, true},
		{"requested wins", bound(corev1.PodRunning, ptr.To(int64(30))), ptr.To(int64(5)), 5, true},
		{"requested zero", bound(corev1.PodRunning, ptr.To(int64(30))), ptr.To(int64(0)), 0, false},
		{"negative request becomes 1", bound(corev1.PodRunning, ptr.To(int64(30))), ptr.To(int64(-1)), 1, true},
		{"unscheduled is immediate", &corev1.Pod{Spec: corev1.PodSpec{TerminationGracePeriodSeconds: ptr.To(int64(30))}}, nil, 0, false},
		{"succeeded is immediate", bound(corev1.PodSucceeded, ptr.To(int64(30))), nil, 0, false},
		{"failed is immediate", bound(corev1.PodFailed, ptr.To(int64(30))), ptr.To(int64(10)), 0, false},
		{"no spec grace", bound(corev1.PodRunning, nil), nil, 0, false},
	}
	for _, c := range cases {
		grace, graceful := strategy{}.CheckGracefulDelete(context.Background(), c.pod, c.requested)
		if grace != c.grace || graceful != c.graceful {
			t.Errorf("%s: got (%d, %v), want (%d, %v)", c.name, grace, graceful, c.grace, c.graceful)
		}
	}
}

func TestPrepareForCreateQoS(t *testing.T) {
	res := func(req, lim string) corev1.ResourceRequirements {
		r := corev1.ResourceRequirements{}
		if req != "" {
			r.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(req), corev1.ResourceMemory: resource.MustParse("64Mi")}
		}
		if lim != "" {
			r.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(lim), corev1.ResourceMemory: resource.MustParse("64Mi")}
		}
		return r
	}
	cases := []struct {
		name string
		r    corev1.ResourceRequirements
		want corev1.PodQOSClass
	}{
		{"none", corev1.ResourceRequirements{}, corev1.PodQOSBestEffort},
		{"limits only (requests defaulted)", res("", "1"), corev1.PodQOSGuaranteed},
		{"equal", res("1", "1"), corev1.PodQOSGuaranteed},
		{"requests below limits", res("500m", "1"), corev1.PodQOSBurstable},
		{"requests only", res("1", ""), corev1.PodQOSBurstable},
	}
	for _, c := range cases {
		pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x", Resources: c.r}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "1.2.3.4"}}
		strategy{}.Default(pod)
		strategy{}.PrepareForCreate(context.Background(), pod)
		if pod.Status.QOSClass != c.want {
			t.Errorf("%s: qosClass = %s, want %s", c.name, pod.Status.QOSClass, c.want)
		}
		if pod.Status.Phase != corev1.PodPending || pod.Status.PodIP != "" {
			t.Errorf("%s: status not reset: %+v", c.name, pod.Status)
		}
	}
}

func TestPrepareForCreateKeepsNodeNameAndGates(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1", SchedulingGates: []corev1.PodSchedulingGate{{Name: "g"}}}}
	strategy{}.PrepareForCreate(context.Background(), pod)
	if pod.Spec.NodeName != "n1" {
		t.Errorf("nodeName cleared")
	}
	if len(pod.Status.Conditions) != 1 || pod.Status.Conditions[0].Reason != "SchedulingGated" {
		t.Errorf("conditions = %+v", pod.Status.Conditions)
	}
}

func TestUpdateStrategies(t *testing.T) {
	old := validPod()
	old.Generation = 1
	old.Status.Phase = corev1.PodRunning

	upd := old.DeepCopy()
	upd.Status.Phase = corev1.PodFailed
	upd.Spec.Containers[0].Image = "other"
	strategy{}.PrepareForUpdate(context.Background(), upd, old)
	if upd.Status.Phase != corev1.PodRunning || upd.Generation != 2 {
		t.Errorf("main update: phase %s generation %d", upd.Status.Phase, upd.Generation)
	}

	st := old.DeepCopy()
	st.Status.Phase = corev1.PodSucceeded
	st.Spec.Containers[0].Image = "other"
	statusStrategy{}.PrepareForStatusUpdate(context.Background(), st, old)
	if st.Status.Phase != corev1.PodSucceeded || st.Spec.Containers[0].Image != "busybox" {
		t.Errorf("status update: phase %s image %s", st.Status.Phase, st.Spec.Containers[0].Image)
	}
}

func TestGetAttrs(t *testing.T) {
	_, empty, err := strategy{}.GetAttrs(&corev1.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
		"spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName"} {
		if _, ok := empty[k]; !ok {
			t.Errorf("field %s missing", k)
		}
	}
	pod := &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: "10.0.0.1"}}}}
	_, f, _ := strategy{}.GetAttrs(pod)
	if f["spec.nodeName"] != "n1" || f["status.phase"] != "Running" || f["status.podIP"] != "10.0.0.1" || f["spec.hostNetwork"] != "false" {
		t.Errorf("fields = %v", f)
	}
	if _, _, err := (strategy{}).GetAttrs(&corev1.Node{}); err == nil {
		t.Errorf("GetAttrs accepted a node")
	}
}
