//go:build linux

package proxy

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/vishvananda/netlink"
)

// netlinkAddrs holds cluster IPs on one interface through rtnetlink.
type netlinkAddrs struct {
	link  netlink.Link
	label string
	// created is set when the interface was made here and is removed on
	// cleanup.
	created bool
}

func newAddrs(ifname, label string) (addrHolder, error) {
	link, err := netlink.LinkByName(ifname)
	created := false
	if err != nil {
		d := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: ifname}}
		if err := netlink.LinkAdd(d); err != nil {
			return nil, fmt.Errorf("creating dummy interface %s: %w", ifname, err)
		}
		created = true
		if link, err = netlink.LinkByName(ifname); err != nil {
			return nil, fmt.Errorf("finding interface %s: %w", ifname, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("setting %s up: %w", ifname, err)
	}
	return &netlinkAddrs{link: link, label: label, created: created}, nil
}

func hostPrefix(ip net.IP) *net.IPNet {
	bits := 128
	if ip.To4() != nil {
		ip, bits = ip.To4(), 32
	}
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}
}

func (a *netlinkAddrs) add(ip net.IP) error {
	addr := &netlink.Addr{IPNet: hostPrefix(ip)}
	if ip.To4() != nil {
		addr.Label = a.label
	}
	if err := netlink.AddrAdd(a.link, addr); err != nil && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("adding %s to %s: %w", ip, a.link.Attrs().Name, err)
	}
	return nil
}

func (a *netlinkAddrs) remove(ip net.IP) error {
	err := netlink.AddrDel(a.link, &netlink.Addr{IPNet: hostPrefix(ip)})
	if err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("removing %s from %s: %w", ip, a.link.Attrs().Name, err)
	}
	return nil
}

// list returns the IPv4 addresses carrying our label.
func (a *netlinkAddrs) list() ([]net.IP, error) {
	addrs, err := netlink.AddrList(a.link, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("listing addresses of %s: %w", a.link.Attrs().Name, err)
	}
	var out []net.IP
	for _, ad := range addrs {
		if ad.Label == a.label {
			out = append(out, ad.IP)
		}
	}
	return out, nil
}

func (a *netlinkAddrs) listen(network, addr string) (any, error) { return hostListen(network, addr) }

func (a *netlinkAddrs) close() error {
	if a.created {
		return netlink.LinkDel(a.link)
	}
	return nil
}
