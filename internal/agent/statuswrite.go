package agent

import (
	"bytes"
	"context"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kubeletConditions are the pod conditions the agent owns.
var kubeletConditions = map[corev1.PodConditionType]bool{
	corev1.PodReadyToStartContainers: true,
	corev1.PodInitialized:            true,
	corev1.PodReady:                  true,
	corev1.ContainersReady:           true,
}

// writeStatus computes the pod's status and writes it when it differs from
// what was last written: one write per real change.
func (w *podWorker) writeStatus(ctx context.Context, pod *corev1.Pod, final bool, now time.Time) {
	view := podView{initCtrs: w.initCtrs, ctrs: w.ctrs, startTime: w.startTime, nodeIP: w.a.nodeIP, podIP: w.a.podIP(w.uid),
		final: final, deadlineExceeded: w.deadlineExceeded, sandboxReady: w.sandboxReady,
		failReason: w.failReason, failMessage: w.failMessage}
	for attempt := 0; attempt < 3; attempt++ {
		st := computeStatus(w.base(pod), view, now)
		normalizeStatusTimes(&st)
		if w.lastStatus != nil && statusEqual(w.lastStatus, &st) {
			return
		}
		// A shallow copy: the client only encodes the request's object,
		// and the informer's pod it shares the rest with stays untouched.
		np := *pod
		np.Status = st
		_, err := w.a.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, &np, metav1.UpdateOptions{})
		switch {
		case err == nil:
			w.lastStatus = &st
			return
		case apierrors.IsNotFound(err):
			return
		case apierrors.IsConflict(err):
			fresh, gerr := w.a.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
			if gerr != nil || fresh.UID != pod.UID {
				return
			}
			pod = fresh
		default:
			slog.Error("updating pod status", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			w.wakeBy(now.Add(time.Second), now)
			return
		}
	}
}

// statusEqual reports whether two statuses are the same to the API:
// whether their protobuf encodings are. Every sync compares, and this
// takes a seventh of the time of the reflective equality.Semantic.DeepEqual,
// which it falls back to should encoding fail. The two agree on the
// statuses writeStatus compares, whose times are whole seconds (the
// encoding drops what is below, as the API does), but on quantities
// written differently (1 and 1000m), which the statuses the agent computes
// hold none of; there this errs towards writing.
func statusEqual(a, b *corev1.PodStatus) bool {
	x, errA := a.Marshal()
	y, errB := b.Marshal()
	if errA != nil || errB != nil {
		return equality.Semantic.DeepEqual(*a, *b)
	}
	return bytes.Equal(x, y)
}

// base returns pod with the agent's own conditions taken from the status it
// last wrote (the informer may not have caught up with it yet) and the
// others' conditions from the object.
func (w *podWorker) base(pod *corev1.Pod) *corev1.Pod {
	if w.lastStatus == nil {
		return pod
	}
	p := *pod
	var conds []corev1.PodCondition
	for _, c := range w.lastStatus.Conditions {
		if kubeletConditions[c.Type] {
			conds = append(conds, c)
		}
	}
	seen := map[corev1.PodConditionType]bool{}
	for _, c := range pod.Status.Conditions {
		if !kubeletConditions[c.Type] {
			conds = append(conds, c)
			seen[c.Type] = true
		}
	}
	for _, c := range w.lastStatus.Conditions {
		if !kubeletConditions[c.Type] && !seen[c.Type] {
			conds = append(conds, c)
		}
	}
	p.Status.Conditions = conds
	return &p
}

// firstStatusHold is how long the first status of a pod whose containers
// have just started is held back. A container that ends within it (the
// usual short Job pod) is then reported once, already terminal, instead of
// Running and then terminal: one API write and one round of watch events
// fewer per pod. kubelet reports a start no sooner: its relist runs every
// second. The hold is wall-clock time, a batching window and not part of
// the pod's timeline, so a fake clock in tests does not stall the report.
const firstStatusHold = 500 * time.Millisecond

// holdFirstStatus reports whether the pod's first status write waits:
// nothing written yet, a container started less than firstStatusHold ago,
// one still runs, and none waits on an error. While it holds, a wake-up
// is armed for the end of the hold.
func (w *podWorker) holdFirstStatus() bool {
	if w.lastStatus != nil || w.firstStart.IsZero() || w.failReason != "" || w.deadlineExceeded {
		return false
	}
	running := false
	for _, cs := range append(append([]*ctrState{}, w.initCtrs...), w.ctrs...) {
		if cs.waitingReason != "" {
			return false
		}
		if cs.running() {
			running = true
		}
	}
	left := firstStatusHold - time.Since(w.firstStart)
	if !running || left <= 0 {
		return false
	}
	if w.holdTimer == nil {
		w.holdTimer = time.AfterFunc(left, w.notify)
	}
	return true
}

// normalizeStatusTimes truncates the status's timestamps to whole seconds,
// the precision the API stores, as kubelet does before comparing: a status
// that differs from the last one written only below a second is a write
// the server would find unchanged.
func normalizeStatusTimes(st *corev1.PodStatus) {
	sec := func(t *metav1.Time) {
		if t != nil && !t.IsZero() {
			*t = t.Rfc3339Copy()
		}
	}
	sec(st.StartTime)
	for i := range st.Conditions {
		sec(&st.Conditions[i].LastProbeTime)
		sec(&st.Conditions[i].LastTransitionTime)
	}
	for _, list := range [][]corev1.ContainerStatus{st.InitContainerStatuses, st.ContainerStatuses, st.EphemeralContainerStatuses} {
		for i := range list {
			normalizeStateTimes(&list[i].State)
			normalizeStateTimes(&list[i].LastTerminationState)
		}
	}
}

func normalizeStateTimes(s *corev1.ContainerState) {
	if r := s.Running; r != nil {
		r.StartedAt = r.StartedAt.Rfc3339Copy()
	}
	if t := s.Terminated; t != nil {
		t.StartedAt = t.StartedAt.Rfc3339Copy()
		t.FinishedAt = t.FinishedAt.Rfc3339Copy()
	}
}
