package proxy

import (
	"slices"
	"sync/atomic"
)

// backends is a round-robin set of endpoint addresses ("ip:port"), swapped
// atomically when the Endpoints change so that forwarding never locks.
type backends struct {
	list atomic.Pointer[[]string]
	next atomic.Uint64
}

func newBackends(addrs []string) *backends {
	b := &backends{}
	b.set(addrs)
	return b
}

func (b *backends) set(addrs []string) {
	c := slices.Clone(addrs)
	b.list.Store(&c)
}

// order returns every backend, starting from the next in turn, so that a
// caller can fall through to the others when one fails.
func (b *backends) order() []string {
	l := *b.list.Load()
	if len(l) == 0 {
		return nil
	}
	start := int((b.next.Add(1) - 1) % uint64(len(l)))
	out := make([]string, 0, len(l))
	out = append(out, l[start:]...)
	return append(out, l[:start]...)
}
