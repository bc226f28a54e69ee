//go:build linux

package network

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Pods leave the node under the node's address, as a cluster network's
// masquerade rule does, so that they reach hosts that know nothing of pod
// CIDRs (the internet, a database elsewhere on the LAN). Traffic between
// pods keeps the pods' own addresses: to this node's bridge and other
// nodes' bridges on this host (interfaces named bl-*), and to other
// nodes' pod CIDRs (routed by SyncPeers).
//
// Each node has a table of its own in the host's nftables, named after its
// bridge, rewritten whole in one transaction whenever its peers change.

const (
	natTablePrefix = "batchlet-"
	natChain       = "postrouting"
	// ownInterfacePrefix starts every interface this package and the
	// Service proxy create on the host.
	ownInterfacePrefix = "bl-"
)

// natTableName is the nftables table of the node whose bridge is bridge.
func natTableName(bridge string) string { return natTablePrefix + bridge }

// syncMasquerade rewrites the node's masquerade table: no translation
// towards peers' pod CIDRs, the node's address for everything else that
// leaves the host.
func (m *Manager) syncMasquerade(peers []*net.IPNet) error {
	conn, err := nftables.New(nftables.WithNetNSFd(int(m.hostNS)))
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	table := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: natTableName(m.Bridge())}
	// Adding an existing table is a no-op and flushing it empties its
	// chains, so the batch below replaces the rules atomically.
	conn.AddTable(table)
	conn.FlushTable(table)
	chain := conn.AddChain(&nftables.Chain{
		Name:     natChain,
		Table:    table,
		Type:     nftables.ChainTypeNAT,
		Hooknum:  nftables.ChainHookPostrouting,
		Priority: nftables.ChainPriorityNATSource,
	})
	for _, peer := range peers {
		conn.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: append(append(
			matchAddress(srcAddressOffset, m.subnet), matchAddress(dstAddressOffset, peer)...),
			&expr.Verdict{Kind: expr.VerdictReturn})})
	}
	conn.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: append(matchAddress(srcAddressOffset, m.subnet),
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		// Comparing only the prefix's bytes matches any name that starts
		// with it.
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte(ownInterfacePrefix)},
		&expr.Masq{})})
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("writing nftables table %s: %w", table.Name, err)
	}
	return nil
}

// removeMasquerade drops the node's table, once its bridge is gone.
func (m *Manager) removeMasquerade() error {
	conn, err := nftables.New(nftables.WithNetNSFd(int(m.hostNS)))
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	conn.DelTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: natTableName(m.Bridge())})
	if err := conn.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("removing nftables table %s: %w", natTableName(m.Bridge()), err)
	}
	return nil
}

// Offsets of the source and destination addresses in an IPv4 header.
const (
	srcAddressOffset = 12
	dstAddressOffset = 16
)

// matchAddress matches packets whose address at offset lies in subnet.
func matchAddress(offset uint32, subnet *net.IPNet) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte(subnet.Mask), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(subnet.IP.To4())},
	}
}

// sweepStaleMasquerade removes the tables of nodes whose bridge is gone.
func sweepStaleMasquerade(h *netlink.Handle, hostNS int) error {
	conn, err := nftables.New(nftables.WithNetNSFd(hostNS))
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return fmt.Errorf("listing nftables tables: %w", err)
	}
	stale := 0
	for _, t := range tables {
		bridge, ok := strings.CutPrefix(t.Name, natTablePrefix)
		if !ok || !strings.HasPrefix(bridge, ownInterfacePrefix) {
			continue
		}
		if _, err := h.LinkByName(bridge); err == nil || !isNotFound(err) {
			continue
		}
		conn.DelTable(t)
		stale++
	}
	if stale == 0 {
		return nil
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("removing stale nftables tables: %w", err)
	}
	return nil
}
