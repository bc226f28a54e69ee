package service

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
)

func TestAllocatorConcurrentUnique(t *testing.T) {
	ctx := context.Background()
	a, err := NewStorageAllocator(newMemStore(), "10.43.0.0/24")
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	var mu sync.Mutex
	seen := map[netip.Addr]bool{}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ip, err := a.Allocate(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[ip] {
				t.Errorf("%s handed out twice", ip)
			}
			if !a.CIDR().Contains(ip) || ip == netip.MustParseAddr("10.43.0.0") || ip == netip.MustParseAddr("10.43.0.255") {
				t.Errorf("%s outside the usable range", ip)
			}
			seen[ip] = true
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("allocated %d unique IPs, want %d", len(seen), n)
	}
}

func TestAllocatorExhaustionReleaseReuse(t *testing.T) {
	ctx := context.Background()
	a, err := NewStorageAllocator(newMemStore(), "10.0.0.0/29") // 6 usable
	if err != nil {
		t.Fatal(err)
	}
	var got []netip.Addr
	for i := 0; i < 6; i++ {
		ip, err := a.Allocate(ctx)
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		got = append(got, ip)
	}
	if _, err := a.Allocate(ctx); !errors.Is(err, ErrFull) {
		t.Fatalf("7th allocation: %v, want ErrFull", err)
	}
	if err := a.Release(ctx, got[2]); err != nil {
		t.Fatal(err)
	}
	ip, err := a.Allocate(ctx)
	if err != nil || ip != got[2] {
		t.Fatalf("after release got %v, %v; want %v", ip, err, got[2])
	}
}

func TestAllocateSpecific(t *testing.T) {
	ctx := context.Background()
	a, err := NewStorageAllocator(newMemStore(), DefaultServiceCIDR)
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("10.43.0.10")
	if err := a.AllocateIP(ctx, ip); err != nil {
		t.Fatal(err)
	}
	if err := a.AllocateIP(ctx, ip); !errors.Is(err, ErrAllocated) {
		t.Errorf("second AllocateIP: %v", err)
	}
	for _, bad := range []string{"10.44.0.1", "10.43.0.0", "10.43.255.255"} {
		if err := a.AllocateIP(ctx, netip.MustParseAddr(bad)); !errors.Is(err, ErrNotInRange) {
			t.Errorf("AllocateIP(%s): %v", bad, err)
		}
	}
	if err := a.Release(ctx, ip); err != nil {
		t.Fatal(err)
	}
	if err := a.AllocateIP(ctx, ip); err != nil {
		t.Errorf("reuse after release: %v", err)
	}
}

func TestAllocatorRangeMismatch(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	a, _ := NewStorageAllocator(store, "10.43.0.0/16")
	if _, err := a.Allocate(ctx); err != nil {
		t.Fatal(err)
	}
	b, _ := NewStorageAllocator(store, "10.96.0.0/12")
	if _, err := b.Allocate(ctx); err == nil {
		t.Errorf("allocating from a store initialised with another range must fail")
	}
}

func TestNewAllocatorDefaultRange(t *testing.T) {
	a := NewAllocator(newMemStore())
	if a == nil || a.CIDR().String() != DefaultServiceCIDR {
		t.Fatalf("NewAllocator = %v", a)
	}
}
