package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/batchlet/batchlet/internal/fsutil"
	"github.com/batchlet/batchlet/internal/runtime"
	"github.com/batchlet/batchlet/internal/runtime/sandbox"
	"github.com/batchlet/batchlet/internal/runtime/sandbox/cgroups"
	"github.com/batchlet/batchlet/internal/runtime/sandbox/volumes"
)

// configRetry is how soon a container whose configuration could not be
// resolved (a missing ConfigMap, say) is tried again.
const configRetry = 10 * time.Second

// podWorker runs one pod: one goroutine owns all of its state, woken by pod
// updates, container exits and its own timer.
type podWorker struct {
	a   *Agent
	uid types.UID
	// dir is the pod's directory in the data dir, runDir in the run dir
	// (see layout.go).
	dir, runDir string

	mu   sync.Mutex
	pod  *corev1.Pod
	gone bool
	// logs maps container name to its latest attempt and whether it runs,
	// for the log endpoint.
	logs map[string]logAttempt
	// running maps container name to its running attempt, for exec and
	// attach.
	running map[string]runtime.Container
	// probeDone collects finished probes for the worker goroutine.
	probeDone []probeResult

	wake chan struct{}

	// netUnconfined is set once a process of the pod may have held
	// CAP_NET_ADMIN or CAP_SYS_ADMIN, so may have changed the pod's
	// network namespace: an attempt re-adopted from an earlier agent, or
	// one started without a capability limit that excludes both (exec
	// sessions get their container's limit). Until then the namespace is
	// parked without looking inside (network.Manager.ParkUnchanged).
	netUnconfined atomic.Bool

	loaded           bool
	initCtrs, ctrs   []*ctrState
	specs            map[*ctrState]*corev1.Container
	live             map[*ctrState]runtime.Container
	exitSeen         map[*ctrState]time.Time
	backoffs         map[string]*backoff
	retryAt          map[*ctrState]time.Time
	startTime        time.Time
	sandboxReady     bool
	deadlineExceeded bool
	finished         bool
	killStart        time.Time
	killDeadline     time.Time
	killedHard       bool
	deleteIssued     bool
	lastStatus       *corev1.PodStatus
	timer            clock.Timer
	timerAt          time.Time
	probes           map[*ctrState]*ctrProbes
	ctrKillAt        map[*ctrState]time.Time
	// sb is the pod's shared sandbox (volumes, /etc files) once set up;
	// sandboxRetry is when a failed set-up is tried again.
	sb           *podSandbox
	sandboxRetry time.Time
	// volMeta is the pod metadata the updatable volumes were last
	// written from.
	volMeta *metav1.ObjectMeta
	// groups are the cgroups of running attempts with limits.
	groups map[*ctrState]*cgroups.Group
	// failReason and failMessage fail the pod for good (a field this node
	// cannot honour).
	failReason, failMessage string
	// firstStart is when this agent first started one of the pod's
	// containers, and holdTimer the wake-up ending the hold of the
	// pod's first status (see holdFirstStatus).
	firstStart time.Time
	holdTimer  *time.Timer
	// netReleased is set once the pod's network has been freed.
	netReleased bool
}

type logAttempt struct {
	n       int
	running bool
}

func newPodWorker(a *Agent, pod *corev1.Pod) *podWorker {
	return &podWorker{
		a:         a,
		uid:       pod.UID,
		dir:       a.podDir(pod.UID),
		runDir:    a.podRunDir(pod.UID),
		pod:       pod,
		logs:      map[string]logAttempt{},
		running:   map[string]runtime.Container{},
		wake:      make(chan struct{}, 1),
		live:      map[*ctrState]runtime.Container{},
		exitSeen:  map[*ctrState]time.Time{},
		backoffs:  map[string]*backoff{},
		retryAt:   map[*ctrState]time.Time{},
		specs:     map[*ctrState]*corev1.Container{},
		probes:    map[*ctrState]*ctrProbes{},
		ctrKillAt: map[*ctrState]time.Time{},
		groups:    map[*ctrState]*cgroups.Group{},
	}
}

func (w *podWorker) update(pod *corev1.Pod) {
	w.mu.Lock()
	w.pod = pod
	w.mu.Unlock()
	w.notify()
}

func (w *podWorker) markGone() {
	w.mu.Lock()
	w.gone = true
	w.mu.Unlock()
	w.notify()
}

func (w *podWorker) notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *podWorker) logAttempt(container string) (logAttempt, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	la, ok := w.logs[container]
	return la, ok
}

// runningContainer returns the container's running attempt, if any.
func (w *podWorker) runningContainer(name string) runtime.Container {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.running[name]
}

func (w *podWorker) setLogAttempt(c *ctrState, running bool) {
	w.mu.Lock()
	w.logs[c.name] = logAttempt{n: c.attempts - 1, running: running}
	w.mu.Unlock()
}

func (w *podWorker) run(ctx context.Context) {
	defer w.a.removeWorker(w.uid, w)
	for {
		if w.sync(ctx) {
			return
		}
		var timerC <-chan time.Time
		if w.timer != nil {
			timerC = w.timer.C()
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-timerC:
		}
	}
}

// sync moves the pod one step towards what its spec asks for and reports
// its status; it returns true once the pod is gone and cleaned up.
func (w *podWorker) sync(ctx context.Context) bool {
	w.mu.Lock()
	pod, gone := w.pod, w.gone
	w.mu.Unlock()
	now := w.a.clock.Now()
	if !w.loaded {
		w.load(pod, now)
	}
	w.reap(now)

	if ads := pod.Spec.ActiveDeadlineSeconds; ads != nil && !w.finished && !w.deadlineExceeded &&
		!now.Before(w.startTime.Add(time.Duration(*ads)*time.Second)) {
		w.deadlineExceeded = true
	}
	if gone || pod.DeletionTimestamp != nil || w.deadlineExceeded || w.finished || w.failReason != "" {
		return w.stop(ctx, pod, gone, now)
	}
	w.startContainers(ctx, pod, now)
	w.refreshVolumes(ctx, pod)
	w.enforceKills(now)
	w.syncProbes(ctx, pod, now)
	// Arm the timer before reporting, so whoever sees the status can rely
	// on the next step being scheduled.
	w.schedule(pod, now)
	if !w.holdFirstStatus() {
		w.writeStatus(ctx, pod, false, now)
	}
	w.releaseNetworkIfTerminal()
	return false
}

// releaseNetworkIfTerminal hands the pod's network to the release loop
// once its reported phase is terminal: nothing runs in it any more, as
// when kubelet removes a terminated pod's sandbox; the address stays in
// the status.
func (w *podWorker) releaseNetworkIfTerminal() {
	if w.netReleased || w.lastStatus == nil {
		return
	}
	if p := w.lastStatus.Phase; p == corev1.PodSucceeded || p == corev1.PodFailed {
		w.netReleased = true
		w.a.podNetworkDone(w.uid)
	}
}

// load builds the container table and re-adopts attempts recorded on disk
// by an earlier agent process.
func (w *podWorker) load(pod *corev1.Pod, now time.Time) {
	w.loaded = true
	w.startTime = now
	if pod.Status.StartTime != nil {
		w.startTime = pod.Status.StartTime.Time
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		w.finished = true
		st := pod.Status
		w.lastStatus = &st
	}
	// Only a pod with directories can have attempts.
	scan := w.a.podDirs.mayExist(w.uid)
	mk := func(c *corev1.Container) *ctrState {
		cs := &ctrState{name: c.Name, image: c.Image}
		w.specs[cs] = c
		if !scan {
			return cs
		}
		ns := attemptsOf(w.dir, w.runDir, c.Name)
		if len(ns) == 0 {
			return cs
		}
		last := ns[len(ns)-1]
		current, started := w.adopt(cs, last, now, true)
		if !started {
			// Only the newest attempt can be one the earlier agent
			// never got started: the next starts after the last ended.
			// It is made anew under the same number.
			if ns = ns[:len(ns)-1]; len(ns) == 0 {
				return cs
			}
			last = ns[len(ns)-1]
			current, _ = w.adopt(cs, last, now, true)
		}
		cs.attempts = last.n + 1
		cs.current = current
		if len(ns) > 1 {
			cs.previous, _ = w.adopt(cs, ns[len(ns)-2], now, false)
		}
		w.sandboxReady = true
		return cs
	}
	for i := range pod.Spec.InitContainers {
		w.initCtrs = append(w.initCtrs, mk(&pod.Spec.InitContainers[i]))
	}
	for i := range pod.Spec.Containers {
		w.ctrs = append(w.ctrs, mk(&pod.Spec.Containers[i]))
	}
}

// adopt re-attaches to attempt n of cs. started is false for an attempt
// that never ran: its directory and log are removed, so that the attempt
// can be made again.
func (w *podWorker) adopt(cs *ctrState, rec attemptRecord, now time.Time, current bool) (a *attempt, started bool) {
	n, dir := rec.n, rec.stateDir
	if dir == "" {
		return lostAttempt(attemptLog(w.dir, cs.name, n), now), true
	}
	ctr, err := w.a.runtime.Adopt(dir)
	if errors.Is(err, runtime.ErrNotStarted) {
		rmErr := errors.Join(os.RemoveAll(dir), removeIfExists(attemptLog(w.dir, cs.name, n)))
		if rmErr == nil {
			return nil, false
		}
		err = fmt.Errorf("removing the attempt that never started: %w", rmErr)
	}
	// An attempt that ran, or may have, under an earlier agent had
	// capabilities this agent does not know.
	w.netUnconfined.Store(true)
	if err != nil {
		slog.Warn("re-adopting container failed", "pod", w.uid, "container", cs.name, "attempt", n, "err", err)
		return unknownAttempt(now), true
	}
	at := &attempt{id: ctr.ID(), started: ctr.StartedAt()}
	select {
	case <-ctr.Done():
		e := ctr.Exit()
		at.exit = &e
		w.exitSeen[cs] = now
	default:
		if current {
			w.watch(cs, ctr)
		}
	}
	if current {
		w.setLogAttempt(cs, at.exit == nil)
	}
	return at, true
}

// unknownAttempt is an attempt whose container cannot be found, as
// kubelet reports one: terminated with 137, ContainerStatusUnknown.
func unknownAttempt(finished time.Time) *attempt {
	e := runtime.Exit{ExitCode: 137, FinishedAt: finished, Reason: "ContainerStatusUnknown",
		Message: "The container could not be located when the pod was terminated"}
	return &attempt{exit: &e}
}

// lostAttempt is an attempt of which only the log is left: the node
// restarted and took the runtime's state, and the container, with it.
// It ended at the latest when its log was last written.
func lostAttempt(log string, now time.Time) *attempt {
	if fi, err := os.Stat(log); err == nil {
		now = fi.ModTime()
	}
	return unknownAttempt(now)
}

func (w *podWorker) watch(cs *ctrState, ctr runtime.Container) {
	w.live[cs] = ctr
	w.mu.Lock()
	w.running[cs.name] = ctr
	w.mu.Unlock()
	go func() {
		<-ctr.Done()
		w.notify()
	}()
}

// reap records the exits of containers that ended since the last sync.
func (w *podWorker) reap(now time.Time) {
	for cs, ctr := range w.live {
		select {
		case <-ctr.Done():
			e := ctr.Exit()
			w.noteOOM(cs, &e)
			cs.current.exit = &e
			w.exitSeen[cs] = now
			delete(w.live, cs)
			w.mu.Lock()
			if w.running[cs.name] == ctr {
				delete(w.running, cs.name)
			}
			w.mu.Unlock()
			w.setLogAttempt(cs, false)
		default:
		}
	}
}

func (w *podWorker) startContainers(ctx context.Context, pod *corev1.Pod, now time.Time) {
	if !w.sandboxReady {
		// Recorded before any directory of the pod exists.
		w.a.podDirs.add(w.uid)
		err := w.a.runtime.PrepareSandbox(ctx, runtime.SandboxConfig{UID: string(pod.UID), Namespace: pod.Namespace,
			Name: pod.Name, Hostname: podHostname(pod), Dir: filepath.Join(w.runDir, "sandbox")})
		if err != nil {
			slog.Error("preparing sandbox", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			return
		}
		// The data dir's pod directory says the pod is on this node (see
		// podDirGone) and holds its logs.
		if err := fsutil.MkdirAll(w.dir, 0o750); err != nil {
			slog.Error("preparing sandbox", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			return
		}
		w.sandboxReady = true
	}
	if w.sb == nil && !w.setUpSandbox(ctx, pod, now) {
		return
	}
	policy := pod.Spec.RestartPolicy
	for _, cs := range w.initCtrs {
		switch {
		case cs.succeeded():
			continue
		case cs.running():
		case cs.current == nil || policy != corev1.RestartPolicyNever:
			w.tryStart(ctx, pod, cs, now)
		}
		if !cs.succeeded() {
			return
		}
	}
	for _, cs := range w.ctrs {
		switch {
		case cs.running():
		case cs.current == nil:
			w.tryStart(ctx, pod, cs, now)
		case policy == corev1.RestartPolicyAlways,
			policy == corev1.RestartPolicyOnFailure && cs.current.exit.ExitCode != 0:
			w.tryStart(ctx, pod, cs, now)
		}
	}
}

// tryStart starts the next attempt of a container unless it is backing off.
func (w *podWorker) tryStart(ctx context.Context, pod *corev1.Pod, cs *ctrState, now time.Time) {
	if t, ok := w.retryAt[cs]; ok && now.Before(t) {
		return
	}
	delete(w.retryAt, cs)
	if cs.current != nil {
		bo := w.backoffs[cs.name]
		if bo == nil {
			bo = &backoff{}
			w.backoffs[cs.name] = bo
		}
		seen := w.exitSeen[cs]
		if until := bo.until(seen); now.Before(until) {
			if cs.waitingReason != "CrashLoopBackOff" {
				w.containerEvent(pod, cs.name, corev1.EventTypeWarning, eventBackOff,
					"Back-off restarting failed container %s in pod %s", cs.name, podFormat(pod))
			}
			cs.waitingReason = "CrashLoopBackOff"
			cs.waitingMessage = fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)",
				bo.delay, cs.name, pod.Name, pod.Namespace, pod.UID)
			return
		}
		bo.next(seen)
	}
	cfg, err := w.a.containerConfig(ctx, pod, w.specs[cs])
	if err != nil {
		cs.waitingReason, cs.waitingMessage = "CreateContainerConfigError", err.Error()
		w.retryAt[cs] = now.Add(configRetry)
		w.containerEvent(pod, cs.name, corev1.EventTypeWarning, eventFailed, "Error: %v", err)
		return
	}
	w.containerEvent(pod, cs.name, corev1.EventTypeNormal, eventPulled, "Container image %q already present on machine", cs.image)
	n := cs.attempts
	cfg.ID = newContainerID()
	cfg.StateDir = attemptDir(w.runDir, cs.name, n)
	cfg.LogPath = attemptLog(w.dir, cs.name, n)
	sp, group, err := w.a.containerSandbox(pod, w.specs[cs], w.sb, cfg.Env, attemptName(n))
	if err != nil {
		if ue, ok := isUnsupported(err); ok {
			w.fail(pod, ue)
			return
		}
		cs.waitingReason, cs.waitingMessage = "CreateContainerConfigError", err.Error()
		w.retryAt[cs] = now.Add(configRetry)
		w.containerEvent(pod, cs.name, corev1.EventTypeWarning, eventFailed, "Error: %v", err)
		return
	}
	cfg.Sandbox = sp
	if !sandbox.ConfinedFromNetworkChanges(sp) {
		w.netUnconfined.Store(true)
	}
	ctr, err := w.a.runtime.Start(ctx, cfg)
	if group != nil {
		if err != nil {
			go destroyGroup(group)
		} else {
			w.groups[cs] = group
		}
	}
	if ue, ok := isUnsupported(err); ok {
		w.fail(pod, ue)
		return
	}
	var se *runtime.StartError
	if err == nil || errors.As(err, &se) {
		w.containerEvent(pod, cs.name, corev1.EventTypeNormal, eventCreated, "Created container: %s", cs.name)
	}
	switch {
	case errors.As(err, &se):
		w.containerEvent(pod, cs.name, corev1.EventTypeWarning, eventFailed, "Error: %s", se.Message)
		cs.attempts++
		cs.previous = cs.current
		e := runtime.Exit{ExitCode: 128, Reason: "StartError", Message: se.Message, FinishedAt: time.Now()}
		cs.current = &attempt{id: cfg.ID, exit: &e}
		cs.waitingReason, cs.waitingMessage = "", ""
		w.exitSeen[cs] = now
		w.setLogAttempt(cs, false)
		// Come back at once to apply the restart policy.
		w.notify()
	case err != nil:
		cs.waitingReason, cs.waitingMessage = "CreateContainerError", err.Error()
		w.retryAt[cs] = now.Add(configRetry)
		w.containerEvent(pod, cs.name, corev1.EventTypeWarning, eventFailed, "Error: %v", err)
	default:
		w.containerEvent(pod, cs.name, corev1.EventTypeNormal, eventStarted, "Started container %s", cs.name)
		if w.firstStart.IsZero() {
			w.firstStart = time.Now()
		}
		cs.attempts++
		cs.previous = cs.current
		cs.current = &attempt{id: ctr.ID(), started: ctr.StartedAt()}
		cs.waitingReason, cs.waitingMessage = "", ""
		w.watch(cs, ctr)
		w.setLogAttempt(cs, true)
	}
}

// stop tears the pod down: SIGTERM, SIGKILL at the grace deadline, a final
// status once nothing runs, then deletion with grace 0.
func (w *podWorker) stop(ctx context.Context, pod *corev1.Pod, gone bool, now time.Time) bool {
	for _, cs := range append(append([]*ctrState{}, w.initCtrs...), w.ctrs...) {
		if cs.current != nil && cs.current.exit != nil && cs.waitingReason == "CrashLoopBackOff" {
			cs.waitingReason, cs.waitingMessage = "", ""
		}
	}
	if len(w.live) > 0 {
		grace := gracePeriod(pod, gone, w.deadlineExceeded)
		if w.killStart.IsZero() {
			w.killStart = now
			w.killDeadline = now.Add(grace)
			for cs := range w.live {
				w.containerEvent(pod, cs.name, corev1.EventTypeNormal, eventKilling, "Stopping container %s", cs.name)
			}
			w.signalAll(syscall.SIGTERM)
		} else if d := w.killStart.Add(grace); d.Before(w.killDeadline) {
			w.killDeadline = d
		}
		if !now.Before(w.killDeadline) && !w.killedHard {
			w.killedHard = true
			w.signalAll(syscall.SIGKILL)
		}
		w.setTimer(w.killDeadline, now)
		return false
	}
	if !w.finished {
		w.writeStatus(ctx, pod, true, now)
		w.finished = true
		w.releaseNetworkIfTerminal()
	}
	if gone {
		w.cleanup(ctx, pod)
		return true
	}
	if pod.DeletionTimestamp != nil && !w.deleteIssued {
		w.deleteIssued = true
		if err := w.a.deletePod(ctx, pod); err != nil {
			slog.Error("deleting pod", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			w.deleteIssued = false
			w.setTimer(now.Add(time.Second), now)
		}
	}
	return false
}

// gracePeriod is how long containers get between SIGTERM and SIGKILL.
func gracePeriod(pod *corev1.Pod, gone, deadline bool) time.Duration {
	secs := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		secs = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.DeletionGracePeriodSeconds != nil && !deadline {
		secs = *pod.DeletionGracePeriodSeconds
	}
	if gone && secs > minimumGracePeriod {
		secs = minimumGracePeriod
	}
	if secs < 0 {
		secs = 0
	}
	return time.Duration(secs) * time.Second
}

// minimumGracePeriod bounds the wait for a pod whose object was removed
// before its processes were.
const minimumGracePeriod = 2

func (w *podWorker) signalAll(sig syscall.Signal) {
	for cs, ctr := range w.live {
		if err := ctr.Signal(sig); err != nil {
			slog.Warn("signalling container", "pod", w.uid, "container", cs.name, "err", err)
		}
	}
}

func (w *podWorker) cleanup(ctx context.Context, pod *corev1.Pod) {
	if w.timer != nil {
		w.timer.Stop()
	}
	if w.holdTimer != nil {
		w.holdTimer.Stop()
	}
	if err := volumes.TearDown(volumeDir(filepath.Join(w.dir, "sandbox"))); err != nil {
		slog.Warn("tearing down volumes", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
	_ = w.a.runtime.RemoveSandbox(ctx, runtime.SandboxConfig{UID: string(pod.UID), Namespace: pod.Namespace,
		Name: pod.Name, Dir: filepath.Join(w.runDir, "sandbox")})
	w.a.releasePodNetwork(pod.UID)
	// The run dir first: the data dir's is what says the pod is here.
	removed := true
	for _, dir := range []string{w.runDir, w.dir} {
		if err := os.RemoveAll(dir); err != nil {
			removed = false
			slog.Warn("removing pod directory", "dir", dir, "err", err)
		}
	}
	if removed {
		w.a.podDirs.remove(w.uid)
	}
	// Nothing reports the pod's address any more.
	w.a.podIPs.Delete(w.uid)
}

// schedule arms the timer for the earliest moment something is due.
func (w *podWorker) schedule(pod *corev1.Pod, now time.Time) {
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, cs := range append(append([]*ctrState{}, w.initCtrs...), w.ctrs...) {
		if cs.waitingReason == "CrashLoopBackOff" {
			if bo := w.backoffs[cs.name]; bo != nil {
				consider(bo.until(w.exitSeen[cs]))
			}
		}
		consider(w.retryAt[cs])
	}
	if w.sb == nil {
		consider(w.sandboxRetry)
	}
	if ads := pod.Spec.ActiveDeadlineSeconds; ads != nil && !w.finished {
		consider(w.startTime.Add(time.Duration(*ads) * time.Second))
	}
	consider(w.probeWake())
	w.setTimer(next, now)
}

// wakeBy makes sure the worker wakes no later than at.
func (w *podWorker) wakeBy(at, now time.Time) {
	if w.timer == nil || at.Before(w.timerAt) {
		w.setTimer(at, now)
	}
}

func (w *podWorker) setTimer(at, _ time.Time) {
	w.timerAt = at
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	if at.IsZero() {
		return
	}
	// Measure from the clock's present, not the sync's start, so that time
	// passing during the sync is not added to the wait.
	d := at.Sub(w.a.clock.Now())
	if d < 0 {
		d = 0
	}
	w.timer = w.a.clock.NewTimer(d)
}
