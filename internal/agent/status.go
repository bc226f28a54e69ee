package agent

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchlet/batchlet/internal/runtime"
)

// attempt is one run of a container.
type attempt struct {
	id      string
	started time.Time
	// exit is nil while the attempt runs.
	exit *runtime.Exit
}

// ctrState is what the agent knows of one container of a pod.
type ctrState struct {
	name     string
	image    string
	attempts int
	current  *attempt
	previous *attempt
	// waitingReason/Message explain why the container is not running now
	// (CrashLoopBackOff, CreateContainerConfigError, ...).
	waitingReason  string
	waitingMessage string
	// notStarted and notReady hold back a running attempt's Started and
	// Ready flags while its startup or readiness probe has not passed.
	notStarted bool
	notReady   bool
}

func (c *ctrState) running() bool { return c.current != nil && c.current.exit == nil }

func (c *ctrState) succeeded() bool {
	return c.current != nil && c.current.exit != nil && c.current.exit.ExitCode == 0 && c.waitingReason == ""
}

func (c *ctrState) failed() bool {
	return c.current != nil && c.current.exit != nil && c.current.exit.ExitCode != 0
}

// podView is the snapshot the status is computed from.
type podView struct {
	initCtrs  []*ctrState
	ctrs      []*ctrState
	startTime time.Time
	nodeIP    string
	// podIP is the pod's own address; empty means the node's.
	podIP string
	// final is set once the pod is being torn down and nothing runs any
	// more: its phase becomes terminal.
	final            bool
	deadlineExceeded bool
	sandboxReady     bool
	// failReason and failMessage fail the pod (UnsupportedPodSpec).
	failReason, failMessage string
}

const (
	reasonDeadlineExceeded  = "DeadlineExceeded"
	messageDeadlineExceeded = "Pod was active on the node longer than the specified deadline"
)

// computeStatus derives the pod status kubelet would report from a
// snapshot. old supplies conditions owned by others and transition times.
func computeStatus(pod *corev1.Pod, v podView, now time.Time) corev1.PodStatus {
	old := pod.Status
	st := corev1.PodStatus{
		QOSClass:          old.QOSClass,
		NominatedNodeName: old.NominatedNodeName,
		Resize:            old.Resize,
	}
	if v.nodeIP != "" {
		ip := v.podIP
		if ip == "" {
			ip = v.nodeIP
		}
		st.HostIP, st.PodIP = v.nodeIP, ip
		st.HostIPs = []corev1.HostIP{{IP: v.nodeIP}}
		st.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	if !v.startTime.IsZero() {
		t := metav1.NewTime(v.startTime)
		st.StartTime = &t
	}
	initDone := true
	for _, c := range v.initCtrs {
		if !c.succeeded() {
			initDone = false
		}
	}
	st.Phase = computePhase(pod.Spec.RestartPolicy, v, initDone)
	if v.deadlineExceeded {
		st.Reason, st.Message = reasonDeadlineExceeded, messageDeadlineExceeded
	} else if v.failReason != "" {
		st.Reason, st.Message = v.failReason, v.failMessage
	} else if old.Reason != "" && (st.Phase == corev1.PodFailed || st.Phase == corev1.PodSucceeded) {
		st.Reason, st.Message = old.Reason, old.Message
	}

	for _, c := range v.initCtrs {
		waiting := "PodInitializing"
		st.InitContainerStatuses = append(st.InitContainerStatuses, containerStatus(c, waiting))
	}
	for _, c := range v.ctrs {
		waiting := "ContainerCreating"
		if !initDone {
			waiting = "PodInitializing"
		}
		st.ContainerStatuses = append(st.ContainerStatuses, containerStatus(c, waiting))
	}
	st.Conditions = conditions(pod, v, st, initDone, now)
	return st
}

func computePhase(policy corev1.RestartPolicy, v podView, initDone bool) corev1.PodPhase {
	if v.deadlineExceeded || v.failReason != "" {
		return corev1.PodFailed
	}
	if v.final {
		for _, c := range v.ctrs {
			if !c.succeeded() {
				return corev1.PodFailed
			}
		}
		if !initDone {
			return corev1.PodFailed
		}
		return corev1.PodSucceeded
	}
	if !initDone {
		for _, c := range v.initCtrs {
			if c.failed() && policy == corev1.RestartPolicyNever {
				return corev1.PodFailed
			}
		}
		return corev1.PodPending
	}
	var running, waiting, stopped, succeeded int
	for _, c := range v.ctrs {
		switch {
		case c.running():
			running++
		case c.current == nil:
			waiting++
		default:
			stopped++
			if c.succeeded() {
				succeeded++
			}
		}
	}
	switch {
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case policy == corev1.RestartPolicyAlways:
		return corev1.PodRunning
	case stopped == succeeded:
		return corev1.PodSucceeded
	case policy == corev1.RestartPolicyNever:
		return corev1.PodFailed
	default:
		return corev1.PodRunning
	}
}

func containerStatus(c *ctrState, defaultWaiting string) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: c.name, Image: c.image}
	if c.attempts > 1 {
		cs.RestartCount = int32(c.attempts - 1)
	}
	started := false
	switch {
	case c.current == nil:
		reason := defaultWaiting
		if c.waitingReason != "" {
			reason = c.waitingReason
		}
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: c.waitingMessage}
	case c.current.exit == nil:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(c.current.started)}
		cs.ContainerID = containerID(c.current.id)
		cs.Ready = !c.notReady
		started = !c.notStarted
		if c.previous != nil {
			cs.LastTerminationState.Terminated = terminatedState(c.previous)
		}
	case c.waitingReason != "":
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: c.waitingReason, Message: c.waitingMessage}
		cs.LastTerminationState.Terminated = terminatedState(c.current)
		cs.ContainerID = containerID(c.current.id)
	default:
		cs.State.Terminated = terminatedState(c.current)
		cs.ContainerID = containerID(c.current.id)
		if c.previous != nil {
			cs.LastTerminationState.Terminated = terminatedState(c.previous)
		}
	}
	cs.Started = &started
	return cs
}

func containerID(id string) string {
	if id == "" {
		return ""
	}
	return "process://" + id
}

func terminatedState(a *attempt) *corev1.ContainerStateTerminated {
	if a == nil || a.exit == nil {
		return nil
	}
	e := a.exit
	reason := e.Reason
	if reason == "" {
		reason = "Completed"
		if e.ExitCode != 0 {
			reason = "Error"
		}
	}
	t := &corev1.ContainerStateTerminated{
		ExitCode:    e.ExitCode,
		Signal:      e.Signal,
		Reason:      reason,
		Message:     e.Message,
		FinishedAt:  metav1.NewTime(e.FinishedAt),
		ContainerID: containerID(a.id),
	}
	if !a.started.IsZero() {
		t.StartedAt = metav1.NewTime(a.started)
	}
	return t
}

// conditions computes kubelet's conditions and keeps the ones others own.
func conditions(pod *corev1.Pod, v podView, st corev1.PodStatus, initDone bool, now time.Time) []corev1.PodCondition {
	var out []corev1.PodCondition
	add := func(c corev1.PodCondition) {
		c.LastTransitionTime = metav1.NewTime(now)
		for _, o := range pod.Status.Conditions {
			if o.Type == c.Type && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
				c.LastProbeTime = o.LastProbeTime
			}
		}
		out = append(out, c)
	}
	terminal := st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed
	sandbox := corev1.ConditionFalse
	if v.sandboxReady && !(terminal && v.final) {
		sandbox = corev1.ConditionTrue
	}
	add(corev1.PodCondition{Type: corev1.PodReadyToStartContainers, Status: sandbox})

	if initDone {
		c := corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}
		if st.Phase == corev1.PodSucceeded && len(v.initCtrs) == 0 {
			c.Reason = "PodCompleted"
		}
		add(c)
	} else {
		var names []string
		for _, c := range v.initCtrs {
			if !c.succeeded() {
				names = append(names, c.name)
			}
		}
		add(corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionFalse,
			Reason: "ContainersNotInitialized", Message: fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(names, " "))})
	}

	ready := corev1.PodCondition{Status: corev1.ConditionTrue}
	switch {
	case st.Phase == corev1.PodSucceeded:
		ready = corev1.PodCondition{Status: corev1.ConditionFalse, Reason: "PodCompleted"}
	case !initDone:
		ready = corev1.PodCondition{Status: corev1.ConditionFalse, Reason: "ContainersNotInitialized",
			Message: fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incomplete(v.initCtrs), " "))}
	default:
		var unready []string
		for i, c := range v.ctrs {
			if !st.ContainerStatuses[i].Ready {
				unready = append(unready, c.name)
			}
		}
		if len(unready) > 0 {
			ready = corev1.PodCondition{Status: corev1.ConditionFalse, Reason: "ContainersNotReady",
				Message: fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))}
		}
	}
	r := ready
	r.Type = corev1.PodReady
	add(r)
	ready.Type = corev1.ContainersReady
	add(ready)

	scheduled := false
	for _, o := range pod.Status.Conditions {
		switch o.Type {
		case corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady:
		default:
			if o.Type == corev1.PodScheduled {
				scheduled = true
			}
			out = append(out, o)
		}
	}
	if !scheduled {
		add(corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue})
	}
	return out
}

func incomplete(ctrs []*ctrState) []string {
	var names []string
	for _, c := range ctrs {
		if !c.succeeded() {
			names = append(names, c.name)
		}
	}
	return names
}
