package proxy

import "net"

// addrHolder makes cluster IPs local somewhere and opens the listeners on
// them.
type addrHolder interface {
	add(ip net.IP) error
	remove(ip net.IP) error
	// list returns the addresses a previous holder with the same label
	// left behind.
	list() ([]net.IP, error)
	// listen opens a TCP listener ("tcp") or UDP socket ("udp") where the
	// cluster IPs live.
	listen(network, addr string) (any, error)
	close() error
}

// hostListen opens a listener in the current network namespace.
func hostListen(network, addr string) (any, error) {
	if network == "udp" {
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return nil, err
		}
		return net.ListenUDP("udp", ua)
	}
	return net.Listen("tcp", addr)
}
