package agent

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// Event reasons kubelet uses.
const (
	eventPulled    = "Pulled"
	eventCreated   = "Created"
	eventStarted   = "Started"
	eventKilling   = "Killing"
	eventBackOff   = "BackOff"
	eventFailed    = "Failed"
	eventUnhealthy = "Unhealthy"
)

// newRecorder records events as kubelet on this node.
func newRecorder(a *Agent) (record.EventBroadcaster, record.EventRecorder) {
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: a.client.CoreV1().Events("")})
	return b, b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: a.cfg.NodeName})
}

// containerRef points an event at one container of a pod, as kubelet's
// references do.
func containerRef(pod *corev1.Pod, name string) *corev1.ObjectReference {
	field := fmt.Sprintf("spec.containers{%s}", name)
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			field = fmt.Sprintf("spec.initContainers{%s}", name)
		}
	}
	return &corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name,
		UID: pod.UID, ResourceVersion: pod.ResourceVersion, FieldPath: field}
}

// containerEvent records an event about one container.
func (w *podWorker) containerEvent(pod *corev1.Pod, container, eventType, reason, format string, args ...any) {
	if w.a.recorder == nil {
		return
	}
	w.a.recorder.Eventf(containerRef(pod, container), eventType, reason, format, args...)
}

// podFormat is kubelet's way of naming a pod in messages.
func podFormat(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}
