package service

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/batchlet/batchlet/internal/storage"
)

// DefaultServiceCIDR is the range cluster IPs come from unless configured.
const DefaultServiceCIDR = "10.43.0.0/16"

// RangeKey is where the allocation bitmap of cluster IPs is stored.
const RangeKey = "/registry/ranges/serviceips"

// Errors of the allocator; ErrAllocated and ErrNotInRange are the
// caller's fault (422), ErrFull is the cluster's (500).
var (
	ErrFull       = errors.New("range is full")
	ErrAllocated  = errors.New("provided IP is already allocated")
	ErrNotInRange = errors.New("provided IP is not in the valid range")
)

// IPAllocator hands out cluster IPs.
type IPAllocator interface {
	// Allocate reserves a free IP.
	Allocate(ctx context.Context) (netip.Addr, error)
	// AllocateIP reserves ip, or fails with ErrAllocated or ErrNotInRange.
	AllocateIP(ctx context.Context, ip netip.Addr) error
	// Release frees ip; freeing a free or foreign IP is not an error.
	Release(ctx context.Context, ip netip.Addr) error
	// CIDR is the range allocated from.
	CIDR() netip.Prefix
}

// StorageAllocator keeps a bitmap of the range in a core/v1
// RangeAllocation object; every change is a compare-and-swap on it, so
// several apiservers may share one store.
type StorageAllocator struct {
	store  storage.Interface
	prefix netip.Prefix
	base   netip.Addr // first usable address
	size   int        // usable addresses
}

// NewStorageAllocator allocates from cidr (e.g. DefaultServiceCIDR). The
// network address and, for IPv4, the broadcast address are never handed
// out.
func NewStorageAllocator(store storage.Interface, cidr string) (*StorageAllocator, error) {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("service CIDR %q: %w", cidr, err)
	}
	prefix = prefix.Masked()
	hostBits := prefix.Addr().BitLen() - prefix.Bits()
	if hostBits < 2 {
		return nil, fmt.Errorf("service CIDR %q is too small", cidr)
	}
	if hostBits > 20 {
		hostBits = 20 // cap the bitmap at 1 Mi addresses, as for large IPv6 ranges
	}
	size := 1<<hostBits - 1 // minus the network address
	if prefix.Addr().Is4() {
		size-- // minus broadcast
	}
	return &StorageAllocator{store: store, prefix: prefix, base: prefix.Addr().Next(), size: size}, nil
}

// CIDR implements IPAllocator.
func (a *StorageAllocator) CIDR() netip.Prefix { return a.prefix }

// offset returns ip's bit index, or -1 outside the usable range.
func (a *StorageAllocator) offset(ip netip.Addr) int {
	if !a.prefix.Contains(ip) {
		return -1
	}
	d := new(big.Int).Sub(new(big.Int).SetBytes(ip.AsSlice()), new(big.Int).SetBytes(a.base.AsSlice()))
	if d.Sign() < 0 || !d.IsInt64() || d.Int64() >= int64(a.size) {
		return -1
	}
	return int(d.Int64())
}

func (a *StorageAllocator) addr(offset int) netip.Addr {
	n := new(big.Int).Add(new(big.Int).SetBytes(a.base.AsSlice()), big.NewInt(int64(offset)))
	buf := make([]byte, a.base.BitLen()/8)
	n.FillBytes(buf)
	ip, _ := netip.AddrFromSlice(buf)
	return ip
}

// Allocate implements IPAllocator. Like upstream it prefers the upper
// part of the range, leaving the lower band to explicitly requested IPs.
func (a *StorageAllocator) Allocate(ctx context.Context) (netip.Addr, error) {
	var got int
	err := a.update(ctx, func(bits []byte) error {
		got = -1
		band := min(max(16, a.size/16), 256)
		if band >= a.size {
			band = 0
		}
		start := band + rand.IntN(a.size-band)
		for i := 0; i < a.size-band && got < 0; i++ {
			if o := band + (start-band+i)%(a.size-band); !isSet(bits, o) {
				got = o
			}
		}
		for o := 0; o < band && got < 0; o++ {
			if !isSet(bits, o) {
				got = o
			}
		}
		if got < 0 {
			return ErrFull
		}
		set(bits, got, true)
		return nil
	})
	if err != nil {
		return netip.Addr{}, err
	}
	return a.addr(got), nil
}

// AllocateIP implements IPAllocator.
func (a *StorageAllocator) AllocateIP(ctx context.Context, ip netip.Addr) error {
	o := a.offset(ip)
	if o < 0 {
		return ErrNotInRange
	}
	return a.update(ctx, func(bits []byte) error {
		if isSet(bits, o) {
			return ErrAllocated
		}
		set(bits, o, true)
		return nil
	})
}

// Release implements IPAllocator.
func (a *StorageAllocator) Release(ctx context.Context, ip netip.Addr) error {
	o := a.offset(ip)
	if o < 0 {
		return nil
	}
	return a.update(ctx, func(bits []byte) error {
		set(bits, o, false)
		return nil
	})
}

// update applies change to the stored bitmap with compare-and-swap,
// creating the RangeAllocation object on first use.
func (a *StorageAllocator) update(ctx context.Context, change func(bits []byte) error) error {
	for {
		_, err := a.store.GuaranteedUpdate(ctx, RangeKey, nil, func(cur runtime.Object) (runtime.Object, error) {
			ra, ok := cur.(*corev1.RangeAllocation)
			if !ok {
				return nil, fmt.Errorf("service IP range: stored object is %T", cur)
			}
			if ra.Range != a.prefix.String() {
				return nil, fmt.Errorf("service IP range: stored range %q differs from configured %q", ra.Range, a.prefix)
			}
			out := ra.DeepCopy()
			out.Data = a.bitmap(out.Data)
			if err := change(out.Data); err != nil {
				return nil, err
			}
			return out, nil
		})
		if !storage.IsNotFound(err) {
			if err != nil && !errors.Is(err, ErrFull) && !errors.Is(err, ErrAllocated) {
				return fmt.Errorf("service IP allocation: %w", err)
			}
			return err
		}
		ra := &corev1.RangeAllocation{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "RangeAllocation"},
			ObjectMeta: metav1.ObjectMeta{Name: "serviceips"},
			Range:      a.prefix.String(),
			Data:       a.bitmap(nil),
		}
		if _, err := a.store.Create(ctx, RangeKey, ra); err != nil && !storage.IsExists(err) {
			return fmt.Errorf("service IP allocation: create range: %w", err)
		}
	}
}

// bitmap returns b grown to the range's size.
func (a *StorageAllocator) bitmap(b []byte) []byte {
	n := (a.size + 7) / 8
	if len(b) >= n {
		return b
	}
	return append(b, make([]byte, n-len(b))...)
}

func isSet(b []byte, i int) bool { return b[i/8]&(1<<(i%8)) != 0 }

func set(b []byte, i int, on bool) {
	if on {
		b[i/8] |= 1 << (i % 8)
	} else {
		b[i/8] &^= 1 << (i % 8)
	}
}

// NewAllocator is a StorageAllocator over store for DefaultServiceCIDR.
func NewAllocator(store storage.Interface) IPAllocator {
	a, err := NewStorageAllocator(store, DefaultServiceCIDR)
	if err != nil {
		// DefaultServiceCIDR is a valid constant; this cannot happen.
		return nil
	}
	return a
}
