package agent

import (
	"context"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Probe kinds, as kubelet names them in events.
const (
	probeLiveness  = "Liveness"
	probeReadiness = "Readiness"
	probeStartup   = "Startup"
)

// probeState is one probe of one container attempt.
type probeState struct {
	kind      string
	spec      *corev1.Probe
	next      time.Time
	inflight  bool
	successes int32
	failures  int32
	// ok is the latched result: it changes only once a threshold is met.
	ok bool
}

// ctrProbes are the probes of a container's current attempt.
type ctrProbes struct {
	attemptID                    string
	startup, readiness, liveness *probeState
	// killed is set once a failed liveness or startup probe has stopped
	// the attempt.
	killed bool
}

// probeResult is a finished probe, handed from its goroutine to the worker.
type probeResult struct {
	cs        *ctrState
	attemptID string
	st        *probeState
	ok        bool
	output    string
}

func newProbeState(kind string, p *corev1.Probe, now time.Time, ok bool) *probeState {
	if p == nil {
		return nil
	}
	return &probeState{kind: kind, spec: p, ok: ok, next: now.Add(time.Duration(p.InitialDelaySeconds) * time.Second)}
}

func (p *probeState) period() time.Duration {
	if p.spec.PeriodSeconds <= 0 {
		return 10 * time.Second
	}
	return time.Duration(p.spec.PeriodSeconds) * time.Second
}

func (p *probeState) successThreshold() int32 {
	// Liveness and startup probes succeed on one success.
	if p.spec.SuccessThreshold <= 0 || p.kind != probeReadiness {
		return 1
	}
	return p.spec.SuccessThreshold
}

func (p *probeState) failureThreshold() int32 {
	if p.spec.FailureThreshold <= 0 {
		return 3
	}
	return p.spec.FailureThreshold
}

// record applies one probe outcome and reports whether the threshold for
// failure was reached by it.
func (p *probeState) record(ok bool) (failedNow bool) {
	if ok {
		p.successes++
		p.failures = 0
		if p.successes >= p.successThreshold() {
			p.ok = true
		}
		return false
	}
	p.failures++
	p.successes = 0
	if p.failures >= p.failureThreshold() {
		p.ok = false
		return true
	}
	return false
}

// syncProbes brings probe state in line with the running attempts, applies
// finished probes and starts the ones that are due.
func (w *podWorker) syncProbes(ctx context.Context, pod *corev1.Pod, now time.Time) {
	for _, cs := range w.ctrs {
		c := w.specs[cs]
		pr := w.probes[cs]
		if !cs.running() {
			delete(w.probes, cs)
			cs.notReady, cs.notStarted = false, false
			continue
		}
		if pr == nil || pr.attemptID != cs.current.id {
			pr = &ctrProbes{
				attemptID: cs.current.id,
				startup:   newProbeState(probeStartup, c.StartupProbe, now, false),
				readiness: newProbeState(probeReadiness, c.ReadinessProbe, now, false),
				liveness:  newProbeState(probeLiveness, c.LivenessProbe, now, true),
			}
			w.probes[cs] = pr
		}
	}
	w.applyProbeResults(pod, now)
	for _, cs := range w.ctrs {
		pr := w.probes[cs]
		if pr == nil {
			continue
		}
		started := pr.startup == nil || pr.startup.ok
		cs.notStarted = !started
		cs.notReady = !started || (pr.readiness != nil && !pr.readiness.ok)
		if pr.killed {
			continue
		}
		if !started {
			w.launchProbe(ctx, pod, cs, pr, pr.startup, now)
			continue
		}
		w.launchProbe(ctx, pod, cs, pr, pr.liveness, now)
		w.launchProbe(ctx, pod, cs, pr, pr.readiness, now)
	}
}

func (w *podWorker) launchProbe(ctx context.Context, pod *corev1.Pod, cs *ctrState, pr *ctrProbes, st *probeState, now time.Time) {
	if st == nil || st.inflight || now.Before(st.next) {
		return
	}
	ctr := w.live[cs]
	if ctr == nil {
		return
	}
	st.inflight = true
	c, ip, id := w.specs[cs], w.a.podIP(pod.UID), pr.attemptID
	go func() {
		ok, out := runProbe(ctx, ip, c, ctr, st.spec)
		w.mu.Lock()
		w.probeDone = append(w.probeDone, probeResult{cs: cs, attemptID: id, st: st, ok: ok, output: out})
		w.mu.Unlock()
		w.notify()
	}()
}

func (w *podWorker) applyProbeResults(pod *corev1.Pod, now time.Time) {
	w.mu.Lock()
	results := w.probeDone
	w.probeDone = nil
	w.mu.Unlock()
	for _, r := range results {
		pr := w.probes[r.cs]
		if pr == nil || pr.attemptID != r.attemptID {
			continue
		}
		r.st.inflight = false
		r.st.next = now.Add(r.st.period())
		failed := r.st.record(r.ok)
		if !r.ok {
			w.containerEvent(pod, r.cs.name, corev1.EventTypeWarning, eventUnhealthy, "%s probe failed: %s", r.st.kind, r.output)
		}
		if failed && r.st.kind != probeReadiness && !pr.killed {
			pr.killed = true
			w.killContainer(pod, r.cs, r.st, now)
		}
	}
}

// killContainer stops an attempt whose liveness or startup probe failed;
// the restart policy then decides what follows.
func (w *podWorker) killContainer(pod *corev1.Pod, cs *ctrState, st *probeState, now time.Time) {
	ctr := w.live[cs]
	if ctr == nil {
		return
	}
	w.containerEvent(pod, cs.name, corev1.EventTypeNormal, eventKilling,
		"Container %s failed %s probe, will be restarted", cs.name, strings.ToLower(st.kind))
	secs := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		secs = *pod.Spec.TerminationGracePeriodSeconds
	}
	if st.spec.TerminationGracePeriodSeconds != nil {
		secs = *st.spec.TerminationGracePeriodSeconds
	}
	if err := ctr.Signal(syscall.SIGTERM); err != nil {
		w.containerEvent(pod, cs.name, corev1.EventTypeWarning, eventFailed, "Error: %v", err)
	}
	w.ctrKillAt[cs] = now.Add(time.Duration(max(secs, 0)) * time.Second)
}

// enforceKills sends SIGKILL to probe-killed attempts whose grace ended.
func (w *podWorker) enforceKills(now time.Time) {
	for cs, at := range w.ctrKillAt {
		ctr := w.live[cs]
		if ctr == nil {
			delete(w.ctrKillAt, cs)
			continue
		}
		if !now.Before(at) {
			_ = ctr.Signal(syscall.SIGKILL)
			delete(w.ctrKillAt, cs)
		}
	}
}

// probeWake is the earliest moment a probe or a kill is due.
func (w *podWorker) probeWake() time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, pr := range w.probes {
		for _, st := range []*probeState{pr.startup, pr.readiness, pr.liveness} {
			if st != nil && !st.inflight && !pr.killed {
				consider(st.next)
			}
		}
	}
	for _, at := range w.ctrKillAt {
		consider(at)
	}
	return next
}
