package agent

import (
	"k8s.io/apimachinery/pkg/api/equality"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// storeSecondsOnly makes the fake API keep status times at whole seconds,
// as the real one stores them.
func storeSecondsOnly(h *harness) {
	h.client.PrependReactor("update", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "status" {
			return false, nil, nil
		}
		if pod, ok := action.(k8stesting.UpdateAction).GetObject().(*corev1.Pod); ok {
			normalizeStatusTimes(&pod.Status)
		}
		return false, nil, nil
	})
}

// TestNoStatusWriteTheServerFindsUnchanged: the agent adds PodScheduled
// itself to a pod never bound through the scheduler, at the current time;
// once the server has stored that time in whole seconds, the agent must
// not write the status again for a difference below a second, a write the
// server would find unchanged.
func TestNoStatusWriteTheServerFindsUnchanged(t *testing.T) {
	h := startAgent(t, nil, "")
	storeSecondsOnly(h)
	h.create(testPod("short", sh("c", "bash", "true")))
	h.waitPod("short", "Succeeded", phaseIs(corev1.PodSucceeded))
	// The agent makes its final report before it lets a deleted pod go.
	h.deleteGracefully("short", 0)
	h.waitPod("short", "gone", gone)
	writes := podStatusWrites(h, "short")
	if len(writes) == 0 {
		t.Fatal("no status written")
	}
	for i := range writes {
		normalizeStatusTimes(&writes[i])
	}
	for i := 1; i < len(writes); i++ {
		if equality.Semantic.DeepEqual(writes[i-1], writes[i]) {
			t.Fatalf("status write %d of %d repeats the one before it as stored", i+1, len(writes))
		}
	}
}

func TestNormalizeStatusTimes(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 678, time.UTC)
	sec := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	ts := metav1.NewTime(at)
	st := corev1.PodStatus{
		StartTime:  &ts,
		Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, LastTransitionTime: ts, LastProbeTime: ts}},
		ContainerStatuses: []corev1.ContainerStatus{{
			State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ts}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{StartedAt: ts, FinishedAt: ts}},
		}},
		InitContainerStatuses: []corev1.ContainerStatus{{
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{StartedAt: ts, FinishedAt: ts}},
		}},
	}
	normalizeStatusTimes(&st)
	for name, got := range map[string]metav1.Time{
		"startTime":               *st.StartTime,
		"lastTransitionTime":      st.Conditions[0].LastTransitionTime,
		"lastProbeTime":           st.Conditions[0].LastProbeTime,
		"running.startedAt":       st.ContainerStatuses[0].State.Running.StartedAt,
		"lastState.startedAt":     st.ContainerStatuses[0].LastTerminationState.Terminated.StartedAt,
		"lastState.finishedAt":    st.ContainerStatuses[0].LastTerminationState.Terminated.FinishedAt,
		"init.terminated.started": st.InitContainerStatuses[0].State.Terminated.StartedAt,
	} {
		if !got.Equal(&sec) {
			t.Errorf("%s = %v, want %v", name, got, sec)
		}
	}
}
