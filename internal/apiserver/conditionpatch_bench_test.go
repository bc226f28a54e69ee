package apiserver

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// benchUnschedulable is the scheduler's patch marking a pod that fits no
// node, as it marshals it.
var benchUnschedulable = func() []byte {
	c := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
		Message:            "0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
		LastTransitionTime: metav1.NewTime(testNow.Add(time.Second))}
	body, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": []corev1.PodCondition{c}}})
	if err != nil {
		panic(err)
	}
	return body
}()

func (pb *podBench) markUnschedulable(name string) {
	pb.do(http.MethodPatch, benchPods+"/"+name+"/status", "application/strategic-merge-patch+json", benchUnschedulable, http.StatusOK)
}

// BenchmarkPodUnschedulablePatch measures the scheduler's status patch of
// a pending pod; BenchmarkPodUnschedulablePatchGeneral the same with the
// patch fast paths off, the cost the condition fast path saves.
func BenchmarkPodUnschedulablePatch(b *testing.B) {
	benchPodStep(b, func(pb *podBench, name string) { pb.create(name) }, (*podBench).markUnschedulable)
}

func BenchmarkPodUnschedulablePatchGeneral(b *testing.B) {
	benchPodStep(b, func(pb *podBench, name string) {
		pb.h.(*server).generalPatchesOnly = true
		pb.create(name)
	}, (*podBench).markUnschedulable)
}
