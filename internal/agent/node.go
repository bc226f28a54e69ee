package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	goruntime "runtime"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

const (
	leaseNamespace      = "kube-node-lease"
	leaseDuration       = 40
	leaseRenewInterval  = 10 * time.Second
	nodeStatusInterval  = time.Minute
	agentVersion        = "v1.34.2"
	runtimeVersionLabel = "process://0.1.0"
)

// nodeState is what the agent knows of its Node object.
type nodeState struct {
	mu    sync.Mutex
	uid   types.UID
	alloc corev1.ResourceList
}

func (n *nodeState) allocatable() corev1.ResourceList {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.alloc
}

// registerNode creates the Node (or adopts an existing one) and reports it
// Ready, then creates the node Lease.
func (a *Agent) registerNode(ctx context.Context) error {
	nodes := a.client.CoreV1().Nodes()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: a.cfg.NodeName,
		Labels: map[string]string{
			"kubernetes.io/hostname":  a.cfg.NodeName,
			"kubernetes.io/os":        goruntime.GOOS,
			"kubernetes.io/arch":      goruntime.GOARCH,
			"beta.kubernetes.io/os":   goruntime.GOOS,
			"beta.kubernetes.io/arch": goruntime.GOARCH,
		},
	}}
	created, err := nodes.Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = nodes.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	}
	if err != nil {
		return fmt.Errorf("registering node %s: %w", a.cfg.NodeName, err)
	}
	a.node.mu.Lock()
	a.node.uid = created.UID
	a.node.mu.Unlock()
	if err := a.annotateNode(ctx); err != nil {
		return err
	}
	if err := a.updateNodeStatus(ctx); err != nil {
		return err
	}
	if err := a.renewLease(ctx); err != nil {
		slog.Warn("node lease", "node", a.cfg.NodeName, "err", err)
	}
	return nil
}

// updateNodeStatus writes the node's capacity, conditions, addresses and
// info, retrying on conflicts.
func (a *Agent) updateNodeStatus(ctx context.Context) error {
	nodes := a.client.CoreV1().Nodes()
	capacity, allocatable := hostCapacity(a.cfg.DataDir, a.cfg.MaxPods)
	a.node.mu.Lock()
	a.node.alloc = allocatable
	a.node.mu.Unlock()
	var lastErr error
	for i := 0; i < 5; i++ {
		node, err := nodes.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("getting node %s: %w", a.cfg.NodeName, err)
		}
		node.Status.Capacity = capacity
		node.Status.Allocatable = allocatable
		node.Status.Phase = ""
		node.Status.Conditions = a.nodeConditions(node.Status.Conditions)
		node.Status.Addresses = a.nodeAddresses()
		node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(a.port())
		node.Status.NodeInfo = nodeInfo()
		_, err = nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{})
		if err == nil {
			return nil
		}
		lastErr = err
		if !apierrors.IsConflict(err) {
			break
		}
	}
	return fmt.Errorf("updating node %s status: %w", a.cfg.NodeName, lastErr)
}

func (a *Agent) port() int {
	if a.listener == nil {
		return 0
	}
	if ta, ok := a.listener.Addr().(*net.TCPAddr); ok {
		return ta.Port
	}
	return 0
}

func (a *Agent) nodeAddresses() []corev1.NodeAddress {
	host := a.cfg.NodeName
	if h, err := os.Hostname(); err == nil && h != "" {
		host = h
	}
	return []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: a.nodeIP},
		{Type: corev1.NodeHostName, Address: host},
	}
}

// nodeConditions are kubelet's node conditions, keeping transition times
// of unchanged ones.
func (a *Agent) nodeConditions(old []corev1.NodeCondition) []corev1.NodeCondition {
	now := metav1.NewTime(a.clock.Now())
	mk := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		c := corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
		for _, o := range old {
			if o.Type == t && o.Status == s {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		return c
	}
	return []corev1.NodeCondition{
		mk(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		mk(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		mk(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		mk(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
	}
}

func nodeInfo() corev1.NodeSystemInfo {
	return corev1.NodeSystemInfo{
		MachineID:               readTrimmed("/etc/machine-id"),
		SystemUUID:              readTrimmed("/sys/class/dmi/id/product_uuid"),
		BootID:                  readTrimmed("/proc/sys/kernel/random/boot_id"),
		KernelVersion:           kernelVersion(),
		OSImage:                 osImage(),
		ContainerRuntimeVersion: runtimeVersionLabel,
		KubeletVersion:          agentVersion,
		OperatingSystem:         goruntime.GOOS,
		Architecture:            goruntime.GOARCH,
	}
}

// renewLease creates or renews the node's Lease in kube-node-lease.
func (a *Agent) renewLease(ctx context.Context) error {
	leases := a.client.CoordinationV1().Leases(leaseNamespace)
	now := metav1.NewMicroTime(a.clock.Now())
	lease, err := leases.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		holder, dur := a.cfg.NodeName, int32(leaseDuration)
		a.node.mu.Lock()
		uid := a.node.uid
		a.node.mu.Unlock()
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Namespace: leaseNamespace,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: a.cfg.NodeName, UID: uid}}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &dur, RenewTime: &now},
		}
		_, err = leases.Create(ctx, lease, metav1.CreateOptions{})
		if apierrors.IsNotFound(err) {
			// The namespace may not exist yet on a fresh cluster.
			_, _ = a.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: leaseNamespace}}, metav1.CreateOptions{})
			_, err = leases.Create(ctx, lease, metav1.CreateOptions{})
		}
		if err != nil {
			return fmt.Errorf("creating node lease: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting node lease: %w", err)
	}
	lease.Spec.RenewTime = &now
	if _, err := leases.Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("renewing node lease: %w", err)
	}
	return nil
}

// heartbeat renews the Lease every 10 s and refreshes node status.
func (a *Agent) heartbeat(ctx context.Context) {
	lease := a.clock.NewTicker(leaseRenewInterval)
	defer lease.Stop()
	status := a.clock.NewTicker(nodeStatusInterval)
	defer status.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-lease.C():
			if err := a.renewLease(ctx); err != nil {
				slog.Warn("node lease", "node", a.cfg.NodeName, "err", err)
			}
		case <-status.C():
			if err := a.updateNodeStatus(ctx); err != nil {
				slog.Warn("node status", "node", a.cfg.NodeName, "err", err)
			}
		}
	}
}
