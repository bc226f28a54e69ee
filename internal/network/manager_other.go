//go:build !linux

package network

import (
	"errors"
	"net"
)

// Manager is a node's pod network; only Linux has one.
type Manager struct{}

// Pod is one pod's network.
type Pod struct {
	Key      string
	IP       net.IP
	NetNS    string
	HostVeth string
}

var errUnsupported = errors.New("pod network namespaces need Linux")

// New always fails: pods use the host network.
func New(Config) (*Manager, error) { return nil, errUnsupported }

func (m *Manager) CIDR() *net.IPNet           { return nil }
func (m *Manager) Gateway() net.IP            { return nil }
func (m *Manager) Bridge() string             { return "" }
func (m *Manager) Lookup(string) (*Pod, bool) { return nil, false }
func (m *Manager) Keys() []string             { return nil }
func (m *Manager) Setup(string) (*Pod, error) { return nil, errUnsupported }
func (m *Manager) Teardown(string) error      { return nil }
func (m *Manager) Park(string) error          { return nil }
func (m *Manager) ParkUnchanged(string) error { return nil }
func (m *Manager) Parked() int                { return 0 }
func (m *Manager) ParkRoom() int              { return 0 }
func (m *Manager) Close() error               { return nil }

// SyncPeers has nothing to route without a pod network.
func (m *Manager) SyncPeers([]Peer) error { return nil }
