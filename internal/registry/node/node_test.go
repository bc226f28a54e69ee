package node

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestTable(t *testing.T) {
	now := time.Now()
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue}
	cases := []struct {
		name   string
		node   corev1.Node
		status string
		roles  string
	}{
		{"ready worker", corev1.Node{Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{ready}}}, "Ready", "<none>"},
		{"not ready", corev1.Node{Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}}}}, "NotReady", "<none>"},
		{"no condition", corev1.Node{}, "Unknown", "<none>"},
		{"cordoned control plane", corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "master"}},
			Spec:       corev1.NodeSpec{Unschedulable: true},
			Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{ready}}}, "Ready,SchedulingDisabled", "control-plane,master"},
	}
	for _, c := range cases {
		c.node.Name = "n1"
		c.node.CreationTimestamp = metav1.NewTime(now.Add(-2 * time.Minute))
		c.node.Status.NodeInfo.KubeletVersion = "v1.34.2"
		row, err := table{}.Row(&c.node, now)
		if err != nil {
			t.Fatal(err)
		}
		want := []interface{}{"n1", c.status, c.roles, "2m", "v1.34.2", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"}
		for i := range want {
			if row[i] != want[i] {
				t.Errorf("%s: cell %d = %v, want %v", c.name, i, row[i], want[i])
			}
		}
	}
}

func TestValidation(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		spec corev1.NodeSpec
		want string
	}{
		{"ok", corev1.NodeSpec{PodCIDR: "10.42.0.0/24", Taints: []corev1.Taint{{Key: "a", Effect: corev1.TaintEffectNoSchedule}}}, ""},
		{"bad cidr", corev1.NodeSpec{PodCIDR: "10.42.0.0"}, `spec.podCIDR: Invalid value: "10.42.0.0": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`},
		{"taint effect", corev1.NodeSpec{Taints: []corev1.Taint{{Key: "a"}}}, "spec.taints[0].effect: Required value"},
		{"taint dup", corev1.NodeSpec{Taints: []corev1.Taint{{Key: "a", Effect: "NoSchedule"}, {Key: "a", Effect: "NoSchedule"}}},
			`spec.taints[1]: Duplicate value: "taints must be unique by key and effect pair"`},
	}
	for _, c := range cases {
		errs := strategy{}.Validate(ctx, &corev1.Node{Spec: c.spec})
		got := ""
		if len(errs) > 0 {
			got = errs[0].Error()
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestUpdate(t *testing.T) {
	ctx := context.Background()
	old := &corev1.Node{Spec: corev1.NodeSpec{}, Status: corev1.NodeStatus{Phase: "Running"}}
	cordon := old.DeepCopy()
	cordon.Spec.Unschedulable = true
	cordon.Status.Phase = ""
	strategy{}.PrepareForUpdate(ctx, cordon, old)
	if errs := (strategy{}).ValidateUpdate(ctx, cordon, old); len(errs) > 0 {
		t.Errorf("cordon: %v", errs)
	}
	if cordon.Status.Phase != "Running" {
		t.Errorf("status not kept")
	}
	cidr := old.DeepCopy()
	cidr.Spec.PodCIDR, cidr.Spec.PodCIDRs = "10.42.0.0/24", []string{"10.42.0.0/24"}
	if errs := (strategy{}).ValidateUpdate(ctx, cidr, old); len(errs) > 0 {
		t.Errorf("first podCIDR: %v", errs)
	}
	again := cidr.DeepCopy()
	again.Spec.PodCIDR, again.Spec.PodCIDRs = "10.42.1.0/24", []string{"10.42.1.0/24"}
	if errs := (strategy{}).ValidateUpdate(ctx, again, cidr); len(errs) == 0 || !strings.Contains(errs[0].Error(), "may not change podCIDR") {
		t.Errorf("podCIDR change: %v", errs)
	}
	ext := old.DeepCopy()
	ext.Spec.ConfigSource = &corev1.NodeConfigSource{}
	if errs := (strategy{}).ValidateUpdate(ctx, ext, old); len(errs) != 1 || !strings.Contains(errs[0].Error(), "node updates may only change labels, taints, or capacity") {
		t.Errorf("other spec change: %v", errs)
	}
	_, f, _ := strategy{}.GetAttrs(cordon)
	if f["spec.unschedulable"] != "true" {
		t.Errorf("fields = %v", f)
	}
}
