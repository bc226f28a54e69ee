package network

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
)

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIPAMAllocatesDistinctAddressesAfterTheGateway(t *testing.T) {
	p, err := newIPAM(t.TempDir(), mustCIDR(t, "10.244.3.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.gateway.String(); got != "10.244.3.1" {
		t.Fatalf("gateway = %s, want 10.244.3.1", got)
	}
	a, err := p.allocate("pod-a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.allocate("pod-b")
	if err != nil {
		t.Fatal(err)
	}
	if a.String() != "10.244.3.2" || b.String() != "10.244.3.3" {
		t.Fatalf("got %s and %s, want 10.244.3.2 and 10.244.3.3", a, b)
	}
	again, err := p.allocate("pod-a")
	if err != nil || !again.Equal(a) {
		t.Fatalf("allocating pod-a again = %v, %v; want its own %s", again, err, a)
	}
}

func TestIPAMExhaustionAndRelease(t *testing.T) {
	// A /29 has 8 addresses: network, gateway, broadcast and 5 for pods.
	p, err := newIPAM(t.TempDir(), mustCIDR(t, "10.244.9.0/29"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		ip, err := p.allocate(k)
		if err != nil {
			t.Fatalf("allocating %s: %v", k, err)
		}
		if ip.String() == "10.244.9.7" || ip.String() == "10.244.9.1" || seen[ip.String()] {
			t.Fatalf("allocated %s for %s", ip, k)
		}
		seen[ip.String()] = true
	}
	if _, err := p.allocate("f"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("allocating beyond the CIDR: err = %v, want ErrExhausted", err)
	}
	freed, _ := p.lookup("c")
	if err := p.release("c"); err != nil {
		t.Fatal(err)
	}
	if err := p.release("c"); err != nil {
		t.Fatalf("releasing twice: %v", err)
	}
	ip, err := p.allocate("f")
	if err != nil {
		t.Fatalf("allocating after a release: %v", err)
	}
	if !ip.Equal(freed) {
		t.Fatalf("got %s, want the released %s", ip, freed)
	}
}

func TestIPAMRecoversAllocationsAfterRestart(t *testing.T) {
	dir := t.TempDir()
	subnet := mustCIDR(t, "10.244.4.0/24")
	p, err := newIPAM(dir, subnet)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.allocate("pod-a")
	b, _ := p.allocate("pod-b")
	if err := p.release("pod-a"); err != nil {
		t.Fatal(err)
	}
	// A stray temporary file and an empty record must not confuse a restart.
	if err := os.WriteFile(filepath.Join(dir, "junk.tmp"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "10.244.4.200"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	q, err := newIPAM(dir, subnet)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := q.lookup("pod-b"); !ok || !got.Equal(b) {
		t.Fatalf("after restart pod-b has %v (%v), want %s", got, ok, b)
	}
	if _, ok := q.lookup("pod-a"); ok {
		t.Fatal("the released pod-a still holds an address after restart")
	}
	c, err := q.allocate("pod-c")
	if err != nil {
		t.Fatal(err)
	}
	if c.Equal(b) {
		t.Fatalf("pod-c got pod-b's address %s", c)
	}
	if got := q.keys(); len(got) != 2 {
		t.Fatalf("keys = %v, want pod-b and pod-c", got)
	}
	_ = a
}

func TestIPAMRejectsUnusableCIDRs(t *testing.T) {
	for _, cidr := range []string{"10.0.0.0/30", "fd00::/64"} {
		if _, err := newIPAM(t.TempDir(), mustCIDR(t, cidr)); err == nil {
			t.Errorf("newIPAM(%s) succeeded", cidr)
		}
	}
}
