package agent

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/batchlet/batchlet/internal/cachesync"
	"github.com/batchlet/batchlet/internal/network"
)

// routePeers keeps a route to every other node's pod CIDR through that
// node's InternalIP, so that pods reach pods on other machines by their
// addresses (and so by the names cluster DNS gives them). It runs until
// ctx ends.
func (a *Agent) routePeers(ctx context.Context, m *network.Manager) {
	if a.client == nil {
		return
	}
	factory := informers.NewSharedInformerFactory(a.client, 0)
	nodes := factory.Core().V1().Nodes()
	changed := make(chan struct{}, 1)
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	if _, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke() },
		UpdateFunc: func(old, cur any) { poke() },
		DeleteFunc: func(any) { poke() },
	}); err != nil {
		slog.Warn("watching nodes for pod routes", "err", err)
		return
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cachesync.Wait(ctx, nodes.Informer().HasSynced) {
		return
	}
	poke()
	lastErr := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		list, err := nodes.Lister().List(labels.Everything())
		if err != nil {
			continue
		}
		msg := ""
		if err := m.SyncPeers(peersOf(list, a.cfg.NodeName)); err != nil {
			msg = err.Error()
		}
		if msg != lastErr && msg != "" {
			slog.Warn("routing to other nodes' pods", "node", a.cfg.NodeName, "err", msg)
		}
		lastErr = msg
	}
}

// peersOf are the nodes other than self with the pod CIDR and address
// their routes need.
func peersOf(nodes []*corev1.Node, self string) []network.Peer {
	var peers []network.Peer
	for _, n := range nodes {
		if n.Name == self || n.Spec.PodCIDR == "" {
			continue
		}
		if ip := internalIP(n); ip != "" {
			peers = append(peers, network.Peer{Node: n.Name, CIDR: n.Spec.PodCIDR, NodeIP: ip})
		}
	}
	return peers
}

func internalIP(n *corev1.Node) string {
	for _, addr := range n.Status.Addresses {
		if addr.Type == corev1.NodeInternalIP {
			return addr.Address
		}
	}
	return ""
}
