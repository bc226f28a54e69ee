package network

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIPAMRekeyParksAnAddressAndHandsItOn: a parked address is no pod's
// and has no record, yet is not handed out; moved on to a pod, it is
// recorded under that pod's key.
func TestIPAMRekeyParksAnAddressAndHandsItOn(t *testing.T) {
	dir := t.TempDir()
	subnet := mustCIDR(t, "10.244.7.0/29")
	p, err := newIPAM(dir, subnet)
	if err != nil {
		t.Fatal(err)
	}
	ip, err := p.allocate("pod-a")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.rekey("pod-a", parkedKey(ip)); err != nil {
		t.Fatal(err)
	}
	if keys := p.keys(); len(keys) != 0 {
		t.Fatalf("keys() = %v with only a parked address", keys)
	}
	if _, ok := p.lookup("pod-a"); ok {
		t.Fatal("pod-a still holds its address after parking")
	}
	if _, err := os.Stat(filepath.Join(dir, ip.String())); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("record of the parked %s still there (%v)", ip, err)
	}
	// A /29 has 5 addresses for pods: the parked one is not among the
	// 4 left.
	for _, k := range []string{"w", "x", "y", "z"} {
		got, err := p.allocate(k)
		if err != nil || got.Equal(ip) {
			t.Fatalf("allocate(%s) = %v, %v with %s parked", k, got, err, ip)
		}
	}
	if _, err := p.allocate("full"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("allocate with only the parked address left: %v, want ErrExhausted", err)
	}

	if err := p.rekey(parkedKey(ip), "pod-b"); err != nil {
		t.Fatal(err)
	}
	if err := p.rekey("pod-b", "w"); err == nil {
		t.Fatal("rekey onto a key that holds an address succeeded")
	}
	if err := p.rekey("nobody", "pod-c"); err == nil {
		t.Fatal("rekey of a key without an address succeeded")
	}
	data, err := os.ReadFile(filepath.Join(dir, ip.String()))
	if err != nil || strings.TrimSpace(string(data)) != "pod-b" {
		t.Fatalf("record of %s = %q, %v; want pod-b", ip, data, err)
	}
	p, err = newIPAM(dir, subnet)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := p.lookup("pod-b"); !ok || !got.Equal(ip) {
		t.Fatalf("after reload pod-b holds %v, %v; want %s", got, ok, ip)
	}
}

// TestIPAMParkedRecordIsRewrittenForItsNextKey: the record of a parked
// address, handed on to a key shorter than its last, holds that key
// alone; a restart forgets the records of parked addresses.
func TestIPAMParkedRecordIsRewrittenForItsNextKey(t *testing.T) {
	dir := t.TempDir()
	subnet := mustCIDR(t, "10.244.8.0/29")
	p, err := newIPAM(dir, subnet)
	if err != nil {
		t.Fatal(err)
	}
	ip, err := p.allocate("a-rather-long-key")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.rekey("a-rather-long-key", parkedKey(ip)); err != nil {
		t.Fatal(err)
	}
	if err := p.rekey(parkedKey(ip), "short"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, ip.String()))
	if err != nil || string(data) != "short\n" {
		t.Fatalf("record of %s = %q, %v; want exactly short", ip, data, err)
	}
	if err := p.rekey("short", parkedKey(ip)); err != nil {
		t.Fatal(err)
	}
	if _, err := newIPAM(dir, subnet); err != nil {
		t.Fatal(err)
	}
	if aside, err := os.ReadDir(p.parkedDir); err != nil || len(aside) != 0 {
		t.Fatalf("records of parked addresses after a restart: %v, %v", aside, err)
	}
	if _, err := os.Stat(filepath.Join(dir, ip.String())); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("record of the parked %s after a restart (%v)", ip, err)
	}
}
