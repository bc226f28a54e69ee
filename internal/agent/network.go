package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"golang.org/x/sys/unix"

	"github.com/batchlet/batchlet/internal/network"
)

// AnnotationPodNetwork is "namespaces" when each pod gets its own network
// namespace and address from the node's pod CIDR, "host" when pods share
// the node's network (then AnnotationPodNetworkReason says why).
const (
	AnnotationPodNetwork       = "batchlet.io/pod-network"
	AnnotationPodNetworkReason = "batchlet.io/pod-network-reason"
)

// PodNetworkMode says whether pods get network namespaces of their own.
type PodNetworkMode int

const (
	// PodNetworkAuto gives pods their own network when the node's
	// isolation is detected (IsolationAuto) and available. An agent told
	// to isolate or not keeps pods in the host network: forcing isolation
	// is about mounts and limits, not about how pods are reached.
	PodNetworkAuto PodNetworkMode = iota
	// PodNetworkOn gives pods their own network whenever the node
	// isolates containers.
	PodNetworkOn
	// PodNetworkOff keeps every pod in the host network.
	PodNetworkOff
)

// PodNetworkConfig configures per-pod network namespaces.
type PodNetworkConfig struct {
	Mode PodNetworkMode
	// CIDR is the node's pod CIDR; empty picks a free /24 of 10.244.0.0/16.
	CIDR string
	// Bridge names the node's bridge; empty derives it from the CIDR.
	Bridge string
}

// podNetworksKeptWarm is how many pod network namespaces the node keeps
// built ahead: a finished pod's namespace serves another pod only after
// its grace period, and a pod on an idle node should not wait for one.
const podNetworksKeptWarm = 2

// podReleaseInterval is how often finished pods' networks are reclaimed.
const podReleaseInterval = time.Second

// finishedPodNetworkGrace is how long a finished pod's address keeps
// answering: as long as cluster DNS may still hand it out from its answer
// cache (the TTL of its answers, 5 s), so that a peer that just resolved the pod does not
// reach a dead address (the pod-to-pod tutorial's pods ping each other and
// exit one by one). A node short of addresses reclaims them sooner.
const finishedPodNetworkGrace = 5 * time.Second

// podNetwork is an agent's pod network: nil manager means host network.
type podNetwork struct {
	once    sync.Once
	manager *network.Manager
	reason  string
	// reclaim lets one worker at a time reclaim finished pods' addresses
	// when the CIDR runs short: a burst of pods all short of one would
	// otherwise each sweep every pod.
	reclaim sync.Mutex
	// stopping is set once the agent stops: networks freed then are
	// destroyed, as Close would destroy them parked.
	stopping atomic.Bool
	// released is closed once the agent, stopping, has freed finished
	// pods' networks and closed the manager; nil without a manager.
	released chan struct{}
}

// podNet is a's pod network, set up on first use: the node's bridge and
// CIDR, or the reason pods stay in the host network.
func (a *Agent) podNet() *podNetwork {
	a.net.once.Do(func() { a.startPodNetwork(&a.net) })
	return &a.net
}

func (a *Agent) startPodNetwork(pn *podNetwork) {
	cfg := a.cfg.PodNetwork
	switch {
	case cfg.Mode == PodNetworkOff:
		pn.reason = "disabled by configuration"
	case cfg.Mode == PodNetworkAuto && a.cfg.Isolation != IsolationAuto:
		pn.reason = "not requested: the node's isolation mode is set explicitly"
	case !a.isolate:
		pn.reason = "pod isolation is off (requires running as root on Linux)"
	default:
		m, err := network.New(network.Config{StateDir: filepath.Join(a.cfg.DataDir, "network"),
			CIDR: cfg.CIDR, Bridge: cfg.Bridge, Taken: a.otherNodesPodCIDRs(), PoolWarm: podNetworksKeptWarm})
		if err != nil {
			pn.reason = err.Error()
			slog.Warn("pods use the host network", "node", a.cfg.NodeName, "err", err)
		} else {
			pn.manager = m
			slog.Info("pod network", "node", a.cfg.NodeName, "bridge", m.Bridge(), "cidr", m.CIDR().String())
			if addrs := network.PodAddresses(m.CIDR()); podCapacity(a.cfg.MaxPods) > addrs {
				// As kubelet, the capacity is the admin's: pods in the
				// host network need no address. The others past the
				// addresses wait for one.
				slog.Warn("the node's pod capacity exceeds its pod CIDR's addresses", "node", a.cfg.NodeName,
					"maxPods", podCapacity(a.cfg.MaxPods), "cidr", m.CIDR().String(), "addresses", addrs)
			}
			a.mu.Lock()
			ctx := a.runCtx
			a.mu.Unlock()
			released := make(chan struct{})
			if ctx == nil {
				// Not started by Run: nothing waits for the release.
				ctx = context.Background()
			} else {
				pn.released = released
			}
			go func() {
				defer close(released)
				a.releasePodNetworks(ctx, m)
			}()
			go a.routePeers(ctx, m)
		}
	}
	go a.publishPodNetwork(pn)
}

// otherNodesPodCIDRs lists the pod CIDRs the cluster's other nodes hold,
// so that nodes on different machines do not pick the same one. Without
// an answer from the API the pick relies on what this host shows.
func (a *Agent) otherNodesPodCIDRs() []string {
	if a.client == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nodes, err := a.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		slog.Warn("listing nodes' pod CIDRs", "err", err)
		return nil
	}
	var taken []string
	for _, n := range nodes.Items {
		if n.Name == a.cfg.NodeName {
			continue
		}
		taken = append(taken, n.Spec.PodCIDRs...)
		if n.Spec.PodCIDR != "" {
			taken = append(taken, n.Spec.PodCIDR)
		}
	}
	return taken
}

// publishPodNetwork records the pod network on the Node: its pod CIDR in
// spec.podCIDR(s), as a node IPAM would, and the mode in an annotation.
func (a *Agent) publishPodNetwork(pn *podNetwork) {
	if a.client == nil {
		return
	}
	ann := map[string]any{AnnotationPodNetwork: "host", AnnotationPodNetworkReason: pn.reason}
	patch := map[string]any{}
	if pn.manager != nil {
		ann = map[string]any{AnnotationPodNetwork: "namespaces", AnnotationPodNetworkReason: nil}
		cidr := pn.manager.CIDR().String()
		patch["spec"] = map[string]any{"podCIDR": cidr, "podCIDRs": []string{cidr}}
	}
	patch["metadata"] = map[string]any{"annotations": ann}
	data, err := json.Marshal(patch)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		_, err := a.client.CoreV1().Nodes().Patch(ctx, a.cfg.NodeName, types.MergePatchType, data, metav1.PatchOptions{})
		if err == nil {
			return
		}
		slog.Debug("publishing the pod network on the node", "err", err)
		select {
		case <-ctx.Done():
		case <-a.clock.After(time.Second):
		}
	}
}

// setUpPodNetwork gives pod its network namespace, or returns nil when it
// uses the host network.
func (a *Agent) setUpPodNetwork(pod *corev1.Pod) (*network.Pod, error) {
	if pod.Spec.HostNetwork || !a.isolate {
		return nil, nil
	}
	pn := a.podNet()
	m := pn.manager
	if m == nil {
		return nil, nil
	}
	p, err := m.Setup(string(pod.UID))
	if errors.Is(err, network.ErrExhausted) {
		pn.reclaim.Lock()
		// Another worker may have reclaimed addresses while this one
		// waited; if not, finished pods in their grace period give
		// theirs up.
		if p, err = m.Setup(string(pod.UID)); errors.Is(err, network.ErrExhausted) {
			a.releaseFinishedPodNetworks(m, true, reclaimLimit(m), false)
			p, err = m.Setup(string(pod.UID))
		}
		pn.reclaim.Unlock()
	}
	if err != nil {
		return nil, fmt.Errorf("setting up the pod network: %w", err)
	}
	a.podIPs.Store(pod.UID, p.IP.String())
	return p, nil
}

// podNetworkDone marks a pod's network as no longer needed: nothing runs
// in it. The release loop frees it after finishedPodNetworkGrace.
func (a *Agent) podNetworkDone(uid types.UID) {
	a.netDone.LoadOrStore(uid, a.clock.Now())
}

// releasePodNetwork tears down a pod's network namespace and frees its
// address now; the periodic release loop catches what this misses.
func (a *Agent) releasePodNetwork(uid types.UID) {
	a.netDone.Delete(uid)
	m := a.podNet().manager
	if m == nil {
		return
	}
	if err := a.tearDownPodNetwork(m, uid); err != nil {
		slog.Warn("tearing down pod network", "pod", uid, "err", err)
	}
}

// tearDownPodNetwork frees uid's network, parking its namespace for
// another pod when podNetworkReusable allows.
func (a *Agent) tearDownPodNetwork(m *network.Manager, uid types.UID) error {
	if !a.net.stopping.Load() && a.podNetworkReusable(uid) {
		if w := a.worker(uid); w != nil && !w.netUnconfined.Load() {
			return m.ParkUnchanged(string(uid))
		}
		return m.Park(string(uid))
	}
	return m.Teardown(string(uid))
}

// podNetworkReusable says whether uid's namespace may serve another pod.
// Nothing of the pod may be left in it, which holds when the pod's worker
// runs none of its containers: a container counts as running until the
// runtime reported its exit, and each runs as PID 1 of a PID namespace
// of its own (isolation is on wherever pods have a network), so at that
// point the kernel has killed and reaped every process it left; exec
// sessions join that PID namespace and end with it. The worker must be the one that set the network up
// (the address was recorded by this agent), so it has re-adopted every
// container an earlier agent left running. A pod that set sysctls, which
// stay with the namespace, or that asked for network privileges is never
// reused; neither is one whose worker is gone, whose state is unknown.
func (a *Agent) podNetworkReusable(uid types.UID) bool {
	if _, ok := a.podIPs.Load(uid); !ok {
		return false
	}
	w := a.worker(uid)
	if w == nil {
		return false
	}
	w.mu.Lock()
	pod, running := w.pod, len(w.running)
	w.mu.Unlock()
	return running == 0 && pod != nil && podNetworkShareable(pod)
}

// podNetworkShareable says whether pod's spec lets its namespace serve
// another pod: no sysctls and no container granted network privileges.
func podNetworkShareable(pod *corev1.Pod) bool {
	if sc := pod.Spec.SecurityContext; sc != nil && len(sc.Sysctls) > 0 {
		return false
	}
	var scs []*corev1.SecurityContext
	for i := range pod.Spec.InitContainers {
		scs = append(scs, pod.Spec.InitContainers[i].SecurityContext)
	}
	for i := range pod.Spec.Containers {
		scs = append(scs, pod.Spec.Containers[i].SecurityContext)
	}
	for i := range pod.Spec.EphemeralContainers {
		scs = append(scs, pod.Spec.EphemeralContainers[i].SecurityContext)
	}
	for _, sc := range scs {
		if sc == nil {
			continue
		}
		if sc.Privileged != nil && *sc.Privileged {
			return false
		}
		if sc.Capabilities != nil {
			for _, c := range sc.Capabilities.Add {
				switch strings.TrimPrefix(strings.ToUpper(string(c)), "CAP_") {
				case "NET_ADMIN", "NET_RAW", "SYS_ADMIN", "ALL":
					return false
				}
			}
		}
	}
	return true
}

// podIP is the pod's own address, or the node's for a pod in the host
// network.
func (a *Agent) podIP(uid types.UID) string {
	if v, ok := a.podIPs.Load(uid); ok {
		return v.(string)
	}
	return a.nodeIP
}

// releasePodNetworks tears down the network of each pod that finished or
// whose directory is gone, until the agent stops: kubelet, too, removes
// a terminated pod's sandbox network while the pod object remains. A pod
// counts as finished once its phase is terminal, which the agent reports
// only when none of its containers runs.
func (a *Agent) releasePodNetworks(ctx context.Context, m *network.Manager) {
	t := a.clock.NewTicker(podReleaseInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// Finished pods' networks go now; running pods keep theirs
			// for the next agent; the bridge goes when none is left.
			a.net.stopping.Store(true)
			a.releaseFinishedPodNetworks(m, true, 0, true)
			if err := m.Close(); err != nil {
				slog.Warn("closing the pod network", "err", err)
			}
			return
		case <-t.C():
			a.releaseFinishedPodNetworks(m, false, 0, true)
		}
	}
}

// minReclaim is how many finished pods' networks a node short of
// addresses frees at least when none can be kept for reuse.
const minReclaim = 8

// reclaimLimit is how many finished pods' networks a node short of
// addresses frees before their grace period is over: as many as can be
// parked for the next pods, which take them over instead of building
// namespaces while others are destroyed.
func reclaimLimit(m *network.Manager) int {
	return max(m.ParkRoom(), minReclaim)
}

// releaseFinishedPodNetworks frees the networks of pods whose directory is
// gone, and of finished pods once their grace period is over. With now set
// it frees finished pods' networks at once, the longest finished first,
// at most limit of them when limit is positive.
//
// It looks only at the pods holding an address, never at all the pods
// the node ran (finished ones stay in the API and keep their directories
// by the thousand): whether one finished comes from the worker's mark or
// the agent's pod cache, whether its directory is gone from a stat. With
// statAll unset only pods without a worker are stat'ed: a worker removes
// its pod's directories after freeing the network itself, so a directory
// gone under a worker was removed by hand, which the periodic pass, with
// statAll, catches.
func (a *Agent) releaseFinishedPodNetworks(m *network.Manager, now bool, limit int, statAll bool) {
	type finishedPod struct {
		uid  types.UID
		done time.Time
	}
	var release []types.UID
	var early []finishedPod
	for _, k := range m.Keys() {
		uid := types.UID(k)
		if (statAll || a.worker(uid) == nil) && a.podDirGone(uid) {
			a.podIPs.Delete(uid)
			release = append(release, uid)
			continue
		}
		v, marked := a.netDone.Load(uid)
		if !marked && a.podFinished(uid) {
			v, _ = a.netDone.LoadOrStore(uid, a.clock.Now())
			marked = true
		}
		switch {
		case !marked:
		case a.clock.Since(v.(time.Time)) >= finishedPodNetworkGrace:
			release = append(release, uid)
		case now:
			early = append(early, finishedPod{uid, v.(time.Time)})
		}
	}
	sort.Slice(early, func(i, j int) bool { return early[i].done.Before(early[j].done) })
	for i, e := range early {
		if limit > 0 && i >= limit {
			break
		}
		release = append(release, e.uid)
	}
	for _, uid := range release {
		a.netDone.Delete(uid)
		if err := a.tearDownPodNetwork(m, uid); err != nil {
			slog.Warn("tearing down pod network", "pod", uid, "err", err)
		}
	}
}

// podFinished reports whether the agent's pod cache holds uid with a
// terminal phase: a pod that finished before this agent started, or
// whose phase was set by another component.
func (a *Agent) podFinished(uid types.UID) bool {
	a.mu.Lock()
	idx := a.podIndex
	a.mu.Unlock()
	if idx == nil {
		return false
	}
	objs, _ := idx.ByIndex(podUIDIndex, string(uid))
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok && (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed) {
			return true
		}
	}
	return false
}

// podUIDIndex indexes the agent's pod cache by UID, for podFinished.
const podUIDIndex = "uid"

func podUIDIndexFunc(obj any) ([]string, error) {
	if p, ok := obj.(*corev1.Pod); ok {
		return []string{string(p.UID)}, nil
	}
	return nil, nil
}

// podDirGone reports whether uid's directory in the data dir is gone.
// One that cannot be looked at counts as present: its network stays.
func (a *Agent) podDirGone(uid types.UID) bool {
	var st unix.Stat_t
	return errors.Is(unix.Stat(a.podDir(uid), &st), unix.ENOENT)
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}
