package scheduler

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func node(name string, mut ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("2"),
				corev1.ResourceMemory: resource.MustParse("4Gi"),
				corev1.ResourcePods:   resource.MustParse("110"),
			},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
	for _, m := range mut {
		m(n)
	}
	return n
}

func pod(mut ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "p-uid"},
		Spec: corev1.PodSpec{
			SchedulerName: corev1.DefaultSchedulerName,
			Containers:    []corev1.Container{{Name: "c"}},
		},
	}
	for _, m := range mut {
		m(p)
	}
	return p
}

func requestCPU(q string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(q)}
	}
}

func infos(used map[string]resources, nodes ...*corev1.Node) []*nodeInfo {
	var out []*nodeInfo
	for _, n := range nodes {
		info := &nodeInfo{node: n, allocatable: nodeAllocatable(n)}
		if u, ok := used[n.Name]; ok {
			info.place(u)
		}
		out = append(out, info)
	}
	return out
}

func TestSchedule(t *testing.T) {
	cordoned := func(n *corev1.Node) { n.Spec.Unschedulable = true }
	notReady := func(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse }
	tainted := func(n *corev1.Node) {
		n.Spec.Taints = []corev1.Taint{{Key: "gpu", Value: "yes", Effect: corev1.TaintEffectNoSchedule}}
	}
	preferTaint := func(n *corev1.Node) {
		n.Spec.Taints = []corev1.Taint{{Key: "soft", Effect: corev1.TaintEffectPreferNoSchedule}}
	}
	labelled := func(n *corev1.Node) { n.Labels["disk"] = "ssd" }
	tolerateGPU := func(p *corev1.Pod) {
		p.Spec.Tolerations = []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpEqual, Value: "yes", Effect: corev1.TaintEffectNoSchedule}}
	}
	wantSSD := func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }
	affinitySSD := func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpIn, Values: []string{"ssd"}}},
			}}},
		}}
	}
	cases := []struct {
		name  string
		pod   *corev1.Pod
		nodes []*nodeInfo
		node  string
		msg   string
	}{
		{name: "one ready node", pod: pod(), nodes: infos(nil, node("a")), node: "a"},
		{name: "least allocated wins", pod: pod(requestCPU("500m")),
			nodes: infos(map[string]resources{"a": {milliCPU: 1500, pods: 3}}, node("a"), node("b")), node: "b"},
		{name: "cordoned", pod: pod(), nodes: infos(nil, node("a", cordoned), node("b")), node: "b"},
		{name: "all cordoned", pod: pod(), nodes: infos(nil, node("a", cordoned)),
			msg: "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."},
		{name: "not ready", pod: pod(), nodes: infos(nil, node("a", notReady)),
			msg: "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."},
		{name: "untolerated taint", pod: pod(), nodes: infos(nil, node("a", tainted)),
			msg: "0/1 nodes are available: 1 node(s) had untolerated taint {gpu: yes}. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."},
		{name: "tolerated taint", pod: pod(tolerateGPU), nodes: infos(nil, node("a", tainted)), node: "a"},
		{name: "prefer-no-schedule ignored", pod: pod(), nodes: infos(nil, node("a", preferTaint)), node: "a"},
		{name: "node selector", pod: pod(wantSSD), nodes: infos(nil, node("a"), node("b", labelled)), node: "b"},
		{name: "required affinity", pod: pod(affinitySSD), nodes: infos(nil, node("a"), node("b", labelled)), node: "b"},
		{name: "selector matches none", pod: pod(wantSSD), nodes: infos(nil, node("a"), node("b")),
			msg: "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."},
		{name: "insufficient cpu", pod: pod(requestCPU("3")), nodes: infos(nil, node("a")),
			msg: "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."},
		{name: "cpu used by others", pod: pod(requestCPU("1")),
			nodes: infos(map[string]resources{"a": {milliCPU: 1500}}, node("a")),
			msg:   "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."},
		{name: "too many pods", pod: pod(), nodes: infos(map[string]resources{"a": {pods: 110}}, node("a")),
			msg: "0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."},
		{name: "mixed reasons sorted", pod: pod(requestCPU("3")), nodes: infos(nil, node("a"), node("b", cordoned), node("c")),
			msg: "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."},
		{name: "no nodes", pod: pod(), msg: "no nodes available to schedule pods"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := schedule(tc.pod, tc.nodes)
			if d.node != tc.node || d.message != tc.msg {
				t.Fatalf("got node %q msg %q, want node %q msg %q", d.node, d.message, tc.node, tc.msg)
			}
		})
	}
}

func TestReservationsPreventOvercommit(t *testing.T) {
	c := newCache()
	c.setNode(node("a"))
	for i, want := range []string{"a", "a", ""} {
		p := pod(requestCPU("1"))
		d := c.scheduleAndReserve("default/p"+string(rune('0'+i)), p)
		if d.node != want {
			t.Fatalf("pod %d: node %q, want %q", i, d.node, want)
		}
	}
	c.unreserve("default/p0", "a")
	if d := c.scheduleAndReserve("default/p3", pod(requestCPU("1"))); d.node != "a" {
		t.Fatalf("after unreserve: %q", d.node)
	}
}

// Best-effort pods (no requests) count at the scoring defaults, so a
// stream of them alternates between equal nodes instead of filling one.
func TestBestEffortPodsSpread(t *testing.T) {
	c := newCache()
	c.setNode(node("a"))
	c.setNode(node("b"))
	counts := map[string]int{}
	for i := 0; i < 6; i++ {
		d := c.scheduleAndReserve(fmt.Sprintf("default/p%d", i), pod())
		if d.node == "" {
			t.Fatalf("pod %d not scheduled: %s", i, d.message)
		}
		counts[d.node]++
	}
	if counts["a"] != 3 || counts["b"] != 3 {
		t.Fatalf("best-effort pods placed %v, want 3 on each node", counts)
	}
}
