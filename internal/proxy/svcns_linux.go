//go:build linux

package proxy

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// serviceNetns keeps the cluster IPs in a network namespace of their own,
// joined to the host by a veth pair: the host routes each cluster IP to the
// namespace, where the IP sits on the loopback and the proxy's listener
// waits. Host processes (pods share the host network) can then listen on
// any address and port — a server binding 0.0.0.0:6379 does not collide
// with a Service on port 6379, as it would if the cluster IPs were local
// addresses of the host. The namespace lives as long as this process holds
// it: a crashed server leaves nothing behind, its veth pair dies with it.
type serviceNetns struct {
	ns      netns.NsHandle
	inNs    *netlink.Handle
	host    netlink.Link // the host end of the veth pair
	nsLo    netlink.Link
	gateway net.IP // the namespace end's address, next hop for cluster IPs
}

// newServiceNetns creates the namespace and the veth pair named link (host
// side) and link+"p" (namespace side), addressed from the /30 linkNet.
func newServiceNetns(link, linkNet string) (addrHolder, error) {
	hostIP, nsIP, mask, err := pairAddrs(linkNet)
	if err != nil {
		return nil, err
	}
	if _, err := netlink.LinkByName(link); err == nil {
		return nil, fmt.Errorf("interface %s exists: another batchlet server runs the service proxy on this host", link)
	}
	ns, err := newDetachedNetns()
	if err != nil {
		return nil, err
	}
	s := &serviceNetns{ns: ns, gateway: nsIP}
	if err := s.setUp(link, hostIP, nsIP, mask); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *serviceNetns) setUp(link string, hostIP, nsIP net.IP, mask net.IPMask) error {
	var err error
	if s.inNs, err = netlink.NewHandleAt(s.ns); err != nil {
		return fmt.Errorf("netlink in the service namespace: %w", err)
	}
	peer := link + "p"
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: link}, PeerName: peer}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("creating veth pair %s/%s: %w", link, peer, err)
	}
	if s.host, err = netlink.LinkByName(link); err != nil {
		return fmt.Errorf("finding %s: %w", link, err)
	}
	peerLink, err := netlink.LinkByName(peer)
	if err != nil {
		return fmt.Errorf("finding %s: %w", peer, err)
	}
	if err := netlink.LinkSetNsFd(peerLink, int(s.ns)); err != nil {
		return fmt.Errorf("moving %s into the service namespace: %w", peer, err)
	}
	if err := netlink.AddrAdd(s.host, &netlink.Addr{IPNet: &net.IPNet{IP: hostIP, Mask: mask}}); err != nil {
		return fmt.Errorf("addressing %s: %w", link, err)
	}
	if err := netlink.LinkSetUp(s.host); err != nil {
		return fmt.Errorf("setting %s up: %w", link, err)
	}
	if s.nsLo, err = s.inNs.LinkByName("lo"); err != nil {
		return fmt.Errorf("finding the service namespace's loopback: %w", err)
	}
	if err := s.inNs.LinkSetUp(s.nsLo); err != nil {
		return fmt.Errorf("setting the service namespace's loopback up: %w", err)
	}
	nsPeer, err := s.inNs.LinkByName(peer)
	if err != nil {
		return fmt.Errorf("finding %s in the service namespace: %w", peer, err)
	}
	if err := s.inNs.AddrAdd(nsPeer, &netlink.Addr{IPNet: &net.IPNet{IP: nsIP, Mask: mask}}); err != nil {
		return fmt.Errorf("addressing %s: %w", peer, err)
	}
	if err := s.inNs.LinkSetUp(nsPeer); err != nil {
		return fmt.Errorf("setting %s up: %w", peer, err)
	}
	// Replies go back to whichever host address a client used.
	if err := s.inNs.RouteAdd(&netlink.Route{LinkIndex: nsPeer.Attrs().Index, Gw: hostIP}); err != nil {
		return fmt.Errorf("default route of the service namespace: %w", err)
	}
	return nil
}

// pairAddrs splits a /30 into the host's and the namespace's address.
func pairAddrs(linkNet string) (host, ns net.IP, mask net.IPMask, err error) {
	_, ipnet, err := net.ParseCIDR(linkNet)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("service proxy link network %q: %w", linkNet, err)
	}
	base := ipnet.IP.To4()
	if ones, bits := ipnet.Mask.Size(); base == nil || bits != 32 || ones > 30 {
		return nil, nil, nil, fmt.Errorf("service proxy link network %q: need an IPv4 network of at least 4 addresses", linkNet)
	}
	host = append(net.IP{}, base...)
	host[3]++
	ns = append(net.IP{}, base...)
	ns[3] += 2
	return host, ns, ipnet.Mask, nil
}

// newDetachedNetns makes a network namespace without moving this process
// into it: a locked thread enters it and comes back.
func newDetachedNetns() (netns.NsHandle, error) {
	var ns netns.NsHandle
	err := onThreadIn(func() error {
		var err error
		if ns, err = netns.New(); err != nil {
			return fmt.Errorf("creating the service network namespace: %w", err)
		}
		return nil
	}, func() {})
	if err != nil && ns.IsOpen() {
		ns.Close()
		return 0, err
	}
	return ns, err
}

// listen opens the socket from a thread inside the namespace; the socket
// stays there after the thread returns to the host.
func (s *serviceNetns) listen(network, addr string) (any, error) {
	var l any
	var lerr error
	err := onThreadIn(func() error {
		if err := netns.Set(s.ns); err != nil {
			return fmt.Errorf("entering the service network namespace: %w", err)
		}
		l, lerr = hostListen(network, addr)
		return nil
	}, func() {
		if lerr == nil {
			closeListener(l)
		}
	})
	if err != nil {
		return nil, err
	}
	return l, lerr
}

// onThreadIn runs enter on a locked OS thread, which enter moves into a
// network namespace, and then brings the thread back to the one it was
// in. When it cannot come back, undo runs and the thread, still locked,
// ends with its goroutine so that nothing else runs in the wrong namespace.
func onThreadIn(enter func() error, undo func()) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- fmt.Errorf("reading the current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := enter(); err != nil {
			if setErr := netns.Set(orig); setErr != nil {
				ch <- err
				return
			}
			runtime.UnlockOSThread()
			ch <- err
			return
		}
		if err := netns.Set(orig); err != nil {
			undo()
			ch <- fmt.Errorf("returning to the host network namespace: %w", err)
			return
		}
		runtime.UnlockOSThread()
		ch <- nil
	}()
	return <-ch
}

func closeListener(l any) {
	switch l := l.(type) {
	case net.Listener:
		l.Close()
	case *net.UDPConn:
		l.Close()
	}
}

func (s *serviceNetns) add(ip net.IP) error {
	if err := s.inNs.AddrAdd(s.nsLo, &netlink.Addr{IPNet: hostPrefix(ip)}); err != nil && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("adding %s in the service namespace: %w", ip, err)
	}
	route := &netlink.Route{Dst: hostPrefix(ip), Gw: s.gateway, LinkIndex: s.host.Attrs().Index}
	if err := netlink.RouteReplace(route); err != nil {
		return fmt.Errorf("routing %s to the service namespace: %w", ip, err)
	}
	return nil
}

func (s *serviceNetns) remove(ip net.IP) error {
	route := &netlink.Route{Dst: hostPrefix(ip), Gw: s.gateway, LinkIndex: s.host.Attrs().Index}
	if err := netlink.RouteDel(route); err != nil && !errors.Is(err, syscall.ESRCH) && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("removing the route to %s: %w", ip, err)
	}
	err := s.inNs.AddrDel(s.nsLo, &netlink.Addr{IPNet: hostPrefix(ip)})
	if err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("removing %s from the service namespace: %w", ip, err)
	}
	return nil
}

// list is empty: a namespace never outlives the process that made it.
func (s *serviceNetns) list() ([]net.IP, error) { return nil, nil }

func (s *serviceNetns) close() error {
	var err error
	if s.host != nil {
		if derr := netlink.LinkDel(s.host); derr != nil {
			err = fmt.Errorf("removing %s: %w", s.host.Attrs().Name, derr)
		}
	}
	if s.inNs != nil {
		s.inNs.Close()
	}
	if s.ns.IsOpen() {
		s.ns.Close()
	}
	return err
}
