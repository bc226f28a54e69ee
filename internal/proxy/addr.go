package proxy

import "net"

// addrHolder puts cluster IPs on, and takes them off, a local interface.
type addrHolder interface {
	add(ip net.IP) error
	remove(ip net.IP) error
	// list returns the addresses a previous holder with the same label
	// left behind.
	list() ([]net.IP, error)
	close() error
}
