//go:build linux

package network

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
)

// claimBridge makes (or takes back) the node's bridge name with the
// gateway address of subnet. It fails with ErrInUse when another live
// node holds the name or routes an overlapping network.
func claimBridge(h *netlink.Handle, name, owner string, subnet *net.IPNet, gateway net.IP) (netlink.Link, error) {
	if err := checkRoutes(h, name, subnet); err != nil {
		return nil, err
	}
	br, err := takeBridge(h, name, owner)
	if err != nil {
		return nil, err
	}
	if err := addressBridge(h, br, subnet, gateway); err != nil {
		return nil, err
	}
	if err := h.LinkSetUp(br); err != nil {
		return nil, fmt.Errorf("setting bridge %s up: %w", name, err)
	}
	return br, nil
}

// checkRoutes refuses a subnet that the host already routes elsewhere:
// another node's bridge, or a real network.
func checkRoutes(h *netlink.Handle, bridge string, subnet *net.IPNet) error {
	routes, err := h.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil || !overlaps(r.Dst, subnet) {
			continue
		}
		if ones, _ := r.Dst.Mask.Size(); ones == 0 {
			continue
		}
		l, err := h.LinkByIndex(r.LinkIndex)
		if err == nil && l.Attrs().Name == bridge {
			continue
		}
		via := "another interface"
		if err == nil {
			via = l.Attrs().Name
		}
		return fmt.Errorf("pod CIDR %s overlaps %s routed via %s: %w", subnet, r.Dst, via, ErrInUse)
	}
	return nil
}

// takeBridge returns the bridge called name, creating it. A bridge left
// by a node whose state directory is gone is taken over.
func takeBridge(h *netlink.Handle, name, owner string) (netlink.Link, error) {
	for attempt := 0; attempt < 2; attempt++ {
		l, err := h.LinkByName(name)
		if err == nil {
			alias := l.Attrs().Alias
			switch {
			case l.Type() != "bridge":
				return nil, fmt.Errorf("interface %s is a %s, not a bridge: %w", name, l.Type(), ErrInUse)
			case alias == owner:
				return l, nil
			case !staleOwner(alias):
				return nil, fmt.Errorf("bridge %s belongs to %q: %w", name, strings.TrimPrefix(alias, ownerPrefix), ErrInUse)
			}
			if err := h.LinkDel(l); err != nil && !isNotFound(err) {
				return nil, fmt.Errorf("removing stale bridge %s: %w", name, err)
			}
		} else if !isNotFound(err) {
			return nil, fmt.Errorf("finding bridge %s: %w", name, err)
		}
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, HardwareAddr: randomMAC()}}
		err = h.LinkAdd(br)
		if err == nil {
			return ownBridge(h, name, owner)
		}
		if !errors.Is(err, syscall.EEXIST) {
			return nil, fmt.Errorf("creating bridge %s: %w", name, err)
		}
		// Another node made it meanwhile: look again at whose it is.
	}
	return nil, fmt.Errorf("bridge %s: %w", name, ErrInUse)
}

// ownBridge marks a freshly made bridge as owner's: the kernel takes no
// alias at creation.
func ownBridge(h *netlink.Handle, name, owner string) (netlink.Link, error) {
	l, err := h.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("finding bridge %s: %w", name, err)
	}
	if err := h.LinkSetAlias(l, owner); err != nil {
		return nil, errors.Join(fmt.Errorf("marking bridge %s: %w", name, err), h.LinkDel(l))
	}
	return l, nil
}

// staleOwner reports whether alias names a node that no longer exists on
// this host: a bridge of this package whose state directory is gone.
func staleOwner(alias string) bool {
	dir, ok := strings.CutPrefix(alias, ownerPrefix)
	if !ok || dir == "" {
		return false
	}
	_, err := os.Stat(dir)
	return errors.Is(err, os.ErrNotExist)
}

// addressBridge gives the bridge exactly the gateway address.
func addressBridge(h *netlink.Handle, br netlink.Link, subnet *net.IPNet, gateway net.IP) error {
	want := &netlink.Addr{IPNet: &net.IPNet{IP: gateway, Mask: subnet.Mask}}
	addrs, err := h.AddrList(br, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing addresses of %s: %w", br.Attrs().Name, err)
	}
	for _, a := range addrs {
		if a.IPNet.String() != want.IPNet.String() {
			if err := h.AddrDel(br, &a); err != nil {
				return fmt.Errorf("removing %s from %s: %w", a.IPNet, br.Attrs().Name, err)
			}
		}
	}
	if err := h.AddrReplace(br, want); err != nil {
		return fmt.Errorf("addressing bridge %s: %w", br.Attrs().Name, err)
	}
	return nil
}

// randomMAC is a locally administered unicast address. A bridge with an
// address of its own keeps it as ports come and go, so pods' ARP entries
// for the gateway stay valid.
func randomMAC() net.HardwareAddr {
	mac := make(net.HardwareAddr, 6)
	_, _ = rand.Read(mac)
	mac[0] = (mac[0] | 0x02) &^ 0x01
	return mac
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.ENOENT)
}

// enableForwarding lets the host route between the bridge and the Service
// proxy's namespace and other nodes' bridges.
func enableForwarding() error {
	const path = "/proc/sys/net/ipv4/ip_forward"
	cur, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(cur)) == "1" {
		return nil
	}
	if err := os.WriteFile(path, []byte("1"), 0); err != nil {
		return fmt.Errorf("enabling IPv4 forwarding: %w", err)
	}
	return nil
}
