//go:build linux

package network

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/vishvananda/netlink"
)

// SyncPeers makes the host route each other node's pod CIDR through that
// node's address ("host-gw": the nodes share a link-layer network), and
// removes the routes of nodes no longer listed. Only routes marked with
// RouteProtocol are ever replaced or removed. The error lists the peers
// that could not be routed; the others are routed regardless.
func (m *Manager) SyncPeers(peers []Peer) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return errClosed
	}
	return withFreshHandle(m.hostHandle, func(h *netlink.Handle) error { return m.syncPeers(h, peers) })
}

func (m *Manager) syncPeers(h *netlink.Handle, peers []Peer) error {
	local, err := localAddresses(h)
	if err != nil {
		return err
	}
	want, errs := peerRoutes(peers, m.subnet, local)
	existing, err := h.RouteListFiltered(netlink.FAMILY_V4,
		&netlink.Route{Protocol: RouteProtocol, Table: syscall.RT_TABLE_MAIN},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("listing pod CIDR routes: %w", err)
	}
	// Routes of this protocol that this node did not make belong to
	// another node on this host (of another cluster): never touched.
	made := loadPeerRoutes(m.stateDir)
	ours := map[string]netlink.Route{}
	for _, r := range existing {
		if r.Dst != nil && made[r.Dst.String()] {
			ours[r.Dst.String()] = r
		}
	}
	for _, pr := range want {
		key := pr.subnet.String()
		cur, have := ours[key]
		delete(ours, key)
		if have && cur.Gw.Equal(pr.via) {
			continue
		}
		if !have {
			if taken, err := routedElsewhere(h, pr.subnet); err != nil || taken {
				if err == nil {
					err = fmt.Errorf("pod CIDR %s is already routed by this host", pr.subnet)
				}
				errs = append(errs, fmt.Errorf("node %s: %w", pr.node, err))
				continue
			}
		}
		route := &netlink.Route{Dst: pr.subnet, Gw: pr.via, Protocol: RouteProtocol, Table: syscall.RT_TABLE_MAIN}
		// Recorded before it exists, so that a crash in between leaves
		// nothing this node would not clean up.
		made[key] = true
		if err := savePeerRoutes(m.stateDir, made); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := h.RouteReplace(route); err != nil {
			if errors.Is(err, syscall.ENETUNREACH) {
				err = fmt.Errorf("%s is not on a network this host is attached to: %w", pr.via, err)
			}
			errs = append(errs, fmt.Errorf("node %s: routing pod CIDR %s via %s: %w", pr.node, pr.subnet, pr.via, err))
		}
	}
	for key, stale := range ours {
		if err := h.RouteDel(&stale); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("removing the route to %s: %w", stale.Dst, err))
			continue
		}
		delete(made, key)
	}
	for key := range made {
		if !routedNow(existing, key) && !wanted(want, key) {
			delete(made, key)
		}
	}
	if err := savePeerRoutes(m.stateDir, made); err != nil {
		errs = append(errs, err)
	}
	subnets := make([]*net.IPNet, 0, len(want))
	for _, pr := range want {
		subnets = append(subnets, pr.subnet)
	}
	if err := m.syncMasquerade(subnets); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// routedNow reports whether routes has one to cidr.
func routedNow(routes []netlink.Route, cidr string) bool {
	for _, r := range routes {
		if r.Dst != nil && r.Dst.String() == cidr {
			return true
		}
	}
	return false
}

// wanted reports whether want routes cidr.
func wanted(want []peerRoute, cidr string) bool {
	for _, pr := range want {
		if pr.subnet.String() == cidr {
			return true
		}
	}
	return false
}

// localAddresses reports whether an address belongs to this host.
func localAddresses(h *netlink.Handle) (func(net.IP) bool, error) {
	addrs, err := h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("listing host addresses: %w", err)
	}
	set := map[string]bool{}
	for _, a := range addrs {
		set[a.IP.String()] = true
	}
	return func(ip net.IP) bool { return set[ip.String()] }, nil
}

// routedElsewhere reports whether the main table already has a route to
// exactly subnet that this package did not make (a bridge of a node on
// this host, or the administrator's own).
func routedElsewhere(h *netlink.Handle, subnet *net.IPNet) (bool, error) {
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4,
		&netlink.Route{Dst: subnet, Table: syscall.RT_TABLE_MAIN},
		netlink.RT_FILTER_DST|netlink.RT_FILTER_TABLE)
	if err != nil {
		return false, fmt.Errorf("listing routes to %s: %w", subnet, err)
	}
	for _, r := range routes {
		if r.Protocol != RouteProtocol {
			return true, nil
		}
	}
	return false, nil
}
