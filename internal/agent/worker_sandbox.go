package agent

import (
	"context"
	"log/slog"
	"maps"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchlet/batchlet/internal/runtime"
	"github.com/batchlet/batchlet/internal/runtime/sandbox"
	"github.com/batchlet/batchlet/internal/runtime/sandbox/cgroups"
	"github.com/batchlet/batchlet/internal/runtime/sandbox/volumes"
)

// Event reasons of the pod's sandbox, as kubelet names them.
const (
	eventFailedMount = "FailedMount"
	// reasonOOMKilled is the terminated reason of a container the kernel
	// killed at its memory limit.
	reasonOOMKilled = "OOMKilled"
)

// setUpSandbox prepares the pod's volumes and /etc files; it reports
// whether containers may start. A failure the node can never overcome
// fails the pod; others are retried, as kubelet retries mounts.
func (w *podWorker) setUpSandbox(ctx context.Context, pod *corev1.Pod, now time.Time) bool {
	if now.Before(w.sandboxRetry) {
		return false
	}
	sb, err := w.a.setUpPod(ctx, pod, filepath.Join(w.dir, "sandbox"), filepath.Join(w.runDir, "sandbox"))
	if err == nil {
		w.sb = sb
		return true
	}
	if ue, ok := isUnsupported(err); ok {
		w.fail(pod, ue)
		return false
	}
	w.sandboxRetry = now.Add(configRetry)
	w.podEvent(pod, corev1.EventTypeWarning, eventFailedMount, "%v", err)
	return false
}

// refreshVolumes rewrites the pod's downwardAPI, ConfigMap, Secret and
// projected volumes when its labels or annotations changed since they
// were written, as kubelet does; each volume is swapped atomically, so a
// reader never sees half an update.
func (w *podWorker) refreshVolumes(ctx context.Context, pod *corev1.Pod) {
	if w.sb == nil || !w.a.isolate || !hasUpdatableVolume(pod) {
		return
	}
	if w.volMeta == nil {
		// SetUp just wrote them from this very pod.
		w.volMeta = &pod.ObjectMeta
		return
	}
	if maps.Equal(w.volMeta.Labels, pod.Labels) && maps.Equal(w.volMeta.Annotations, pod.Annotations) {
		return
	}
	err := volumes.Update(ctx, pod, volumes.Options{Dir: volumeDir(w.sb.dir),
		Source: clientSource{w.a.client}, Allocatable: w.a.node.allocatable()})
	if err != nil {
		w.podEvent(pod, corev1.EventTypeWarning, eventFailedMount, "updating volumes: %v", err)
		return
	}
	w.volMeta = &pod.ObjectMeta
}

func hasUpdatableVolume(pod *corev1.Pod) bool {
	for _, v := range pod.Spec.Volumes {
		if v.DownwardAPI != nil || v.Projected != nil || v.ConfigMap != nil || v.Secret != nil {
			return true
		}
	}
	return false
}

// fail ends the pod because this node cannot honour one of its fields.
func (w *podWorker) fail(pod *corev1.Pod, ue *sandbox.UnsupportedError) {
	if w.failReason != "" {
		return
	}
	w.failReason, w.failMessage = ue.Reason(), ue.Error()
	w.podEvent(pod, corev1.EventTypeWarning, ue.Reason(), "%s", ue.Error())
	w.notify()
}

func (w *podWorker) podEvent(pod *corev1.Pod, eventType, reason, format string, args ...any) {
	if w.a.recorder == nil {
		return
	}
	w.a.recorder.Eventf(pod, eventType, reason, format, args...)
}

// noteOOM marks an exit caused by the memory limit and releases the
// attempt's cgroup off the worker's path.
func (w *podWorker) noteOOM(cs *ctrState, e *runtime.Exit) {
	g := w.groups[cs]
	if g == nil {
		return
	}
	delete(w.groups, cs)
	if n, err := g.OOMKills(); err == nil && n > 0 && e.Reason == "" {
		e.Reason = reasonOOMKilled
	}
	go destroyGroup(g)
}

func destroyGroup(g *cgroups.Group) {
	if err := g.Destroy(); err != nil {
		slog.Warn("removing cgroup", "group", g.Path(), "err", err)
	}
}
