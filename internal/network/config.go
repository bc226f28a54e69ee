package network

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/utils/clock"
)

// Config says where a node keeps its pod network.
type Config struct {
	// StateDir holds the node's CIDR, bridge and peer routes; its path names
	// the node's namespace directory under RunDir, which holds the pods'
	// namespaces and address records, and marks the node's bridge as
	// this node's, so that nodes sharing a host tell their bridges apart.
	StateDir string
	// CIDR is the node's pod CIDR. Empty picks a free /24 of
	// AutoCIDRRange, preferring the one an earlier start used.
	CIDR string
	// Bridge names the node's bridge; empty derives bl-br<N> from the
	// third octet of the CIDR.
	Bridge string
	// Taken lists pod CIDRs other nodes of the cluster hold, on this host
	// or others; an automatic pick avoids them.
	Taken []string
	// PoolSize caps the namespaces kept for reuse once their pods are
	// done; zero means DefaultPoolSize, negative keeps none.
	PoolSize int
	// PoolIdle is how long a kept namespace waits for a pod before it is
	// destroyed; zero means DefaultPoolIdle.
	PoolIdle time.Duration
	// PoolWarm is how many namespaces the node keeps built ahead, for
	// pods that arrive when no finished pod's namespace is waiting; they
	// do not idle out. Zero or negative builds none ahead.
	PoolWarm int
	// Clock times the kept namespaces; nil is the real clock.
	Clock clock.WithDelayedExecution
}

// DefaultPoolSize and DefaultPoolIdle bound the namespaces a node keeps
// for reuse: enough to cover a burst of short pods, none on an idle node.
const (
	DefaultPoolSize = 64
	DefaultPoolIdle = 30 * time.Second
)

// taken reports whether subnet is one of c.Taken.
func (c Config) taken(subnet *net.IPNet) bool {
	for _, t := range c.Taken {
		if n, err := parseCIDR(t); err == nil && n.String() == subnet.String() {
			return true
		}
	}
	return false
}

// AutoCIDRRange is where pod CIDRs are picked from when none is given.
const AutoCIDRRange = "10.244.0.0/16"

// ErrInUse says that a bridge or CIDR is held by another node on this host.
var ErrInUse = errors.New("in use by another node on this host")

// ownerPrefix starts the alias of a bridge made by this package; the rest
// is the owning node's state directory.
const ownerPrefix = "batchlet:"

// maxAutoSlots bounds how many /24s are tried when picking a CIDR.
const maxAutoSlots = 64

func (c Config) owner() (string, error) {
	dir, err := filepath.Abs(c.StateDir)
	if err != nil {
		return "", fmt.Errorf("pod network state dir: %w", err)
	}
	return ownerPrefix + dir, nil
}

// parseCIDR reads an IPv4 pod CIDR, in its network form.
func parseCIDR(s string) (*net.IPNet, error) {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		return nil, fmt.Errorf("pod CIDR %q: %w", s, err)
	}
	if n.IP.To4() == nil {
		return nil, fmt.Errorf("pod CIDR %q: only IPv4 is supported", s)
	}
	n.IP = n.IP.To4()
	return n, nil
}

// bridgeFor is the default bridge name of a CIDR.
func bridgeFor(subnet *net.IPNet) string {
	return fmt.Sprintf("bl-br%d", subnet.IP.To4()[2])
}

// autoCIDR is the slot-th /24 of AutoCIDRRange.
func autoCIDR(slot int) *net.IPNet {
	return &net.IPNet{IP: net.IPv4(10, 244, byte(slot), 0).To4(), Mask: net.CIDRMask(24, 32)}
}

// overlaps reports whether two networks share an address.
func overlaps(a, b *net.IPNet) bool {
	return a.Contains(b.IP) || b.Contains(a.IP)
}

// RunDir holds the pods' namespace files, one directory per node. They
// live outside the node's state directory, so that the directory of a
// node stopped with pods still running can be removed; a node's
// directory here whose state directory is gone is swept by the next
// node that starts on the host.
const RunDir = "/run/batchlet/netns"

// ownerFile names the state directory a namespace directory belongs to.
const ownerFile = "owner"

// addressDirName names, in a node's namespace directory, the directory of
// its address records (and, with "-parked" added, the records parked
// addresses keep aside). They live beside the namespaces, in memory: a
// record serves the pod's namespace across agent restarts, and neither
// outlives a reboot, after which a pod's network is built anew. Each
// pod's start and end write one, which a disk file system does at
// several times the CPU cost. A key cannot start with a dot, so no
// namespace file takes its name.
const addressDirName = ".addresses"

// legacyAddressDir is where, under the state directory, agents kept the
// address records before; a start moves them to addressDir.
const legacyAddressDir = "addresses"

// addressDir is where the node with stateDir keeps its address records.
func addressDir(stateDir string) string {
	return filepath.Join(NamespaceDir(stateDir), addressDirName)
}

// NamespaceDir is where the node with stateDir keeps its pods' namespace
// files.
func NamespaceDir(stateDir string) string {
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		abs = stateDir
	}
	h := fnv.New64a()
	h.Write([]byte(abs))
	return filepath.Join(RunDir, fmt.Sprintf("%016x", h.Sum64()))
}

// maxBridgeName is the longest interface name the kernel takes (IFNAMSIZ
// less the terminating NUL).
const maxBridgeName = 15

// CheckConfig reports a pod CIDR or bridge name no node could use, so
// that a mistyped flag stops the program at start instead of leaving
// pods in the host network.
func CheckConfig(cidr, bridge string) error {
	if cidr != "" {
		subnet, err := parseCIDR(cidr)
		if err != nil {
			return err
		}
		if ones, _ := subnet.Mask.Size(); ones > 29 {
			return fmt.Errorf("pod CIDR %q: too small, need at least a /29", cidr)
		}
	}
	if bridge != "" {
		if len(bridge) > maxBridgeName {
			return fmt.Errorf("bridge name %q: longer than %d characters", bridge, maxBridgeName)
		}
		if bridge == "." || bridge == ".." || strings.ContainsAny(bridge, "/: \t\n") {
			return fmt.Errorf("bridge name %q: not a valid interface name", bridge)
		}
	}
	return nil
}

// PodAddresses is how many pods of subnet can have an address: all but
// the network's, the gateway's and the broadcast address.
func PodAddresses(subnet *net.IPNet) int {
	if subnet == nil {
		return 0
	}
	ones, bits := subnet.Mask.Size()
	if bits != 32 || ones > 30 {
		return 0
	}
	return 1<<uint(bits-ones) - 3
}
