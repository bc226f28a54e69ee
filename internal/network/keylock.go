package network

import (
	"hash/fnv"
	"sync"
)

// keyLocks serialises the set-up and teardown of one key, so that the
// agent's teardown of a finished pod and its periodic sweep cannot race
// over the same namespace. Keys share a fixed set of locks: two pods that
// land on the same one merely wait for each other.
type keyLocks [64]sync.Mutex

func (l *keyLocks) lock(key string) func() {
	h := fnv.New32a()
	h.Write([]byte(key))
	mu := &l[h.Sum32()%uint32(len(l))]
	mu.Lock()
	return mu.Unlock
}
