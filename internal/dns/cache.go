package dns

import (
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"k8s.io/utils/clock"
)

// answerCache keeps positive cluster answers for their TTL, as the cache
// in front of CoreDNS's kubernetes plugin does in a default cluster. It
// matters for records that vanish quickly: a pod of an Indexed Job that
// finishes leaves its headless Service at once, and a peer that looks it
// up a moment later still gets the answer others just got.
type answerCache struct {
	clock clock.PassiveClock
	ttl   time.Duration

	mu      sync.Mutex
	entries map[cacheKey]cacheEntry
}

type cacheKey struct {
	name          string
	qtype, qclass uint16
}

type cacheEntry struct {
	answer  []dns.RR
	expires time.Time
}

// maxCacheEntries bounds the cache; when full it starts over.
const maxCacheEntries = 10000

func newAnswerCache(c clock.PassiveClock, ttl time.Duration) *answerCache {
	return &answerCache{clock: c, ttl: ttl, entries: map[cacheKey]cacheEntry{}}
}

func keyOf(q dns.Question) cacheKey {
	return cacheKey{name: strings.ToLower(q.Name), qtype: q.Qtype, qclass: q.Qclass}
}

// get returns a copy of the cached answer with TTLs lowered to what is
// left of them.
func (c *answerCache) get(q dns.Question) ([]dns.RR, bool) {
	now := c.clock.Now()
	c.mu.Lock()
	e, ok := c.entries[keyOf(q)]
	if ok && !now.Before(e.expires) {
		delete(c.entries, keyOf(q))
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	left := uint32(e.expires.Sub(now).Seconds())
	if left == 0 {
		left = 1
	}
	out := make([]dns.RR, len(e.answer))
	for i, rr := range e.answer {
		out[i] = dns.Copy(rr)
		out[i].Header().Ttl = left
	}
	return out, true
}

// put remembers a non-empty answer.
func (c *answerCache) put(q dns.Question, answer []dns.RR) {
	if len(answer) == 0 || c.ttl <= 0 {
		return
	}
	stored := make([]dns.RR, len(answer))
	for i, rr := range answer {
		stored[i] = dns.Copy(rr)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCacheEntries {
		c.entries = map[cacheKey]cacheEntry{}
	}
	c.entries[keyOf(q)] = cacheEntry{answer: stored, expires: c.clock.Now().Add(c.ttl)}
}
