//go:build linux

package network

import (
	"strconv"
	"testing"
)

// BenchmarkPodSetup is the cost a pod's start pays for its network:
// namespace, veth pair, addresses and routes.
func BenchmarkPodSetup(b *testing.B) {
	requireRoot(b)
	m := newTestManager(b)
	keys := make([]string, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := "bench-" + strconv.Itoa(i)
		if _, err := m.Setup(k); err != nil {
			b.Fatal(err)
		}
		keys = append(keys, k)
		if len(keys) == 200 {
			// Stay within the /24.
			b.StopTimer()
			for _, k := range keys {
				_ = m.Teardown(k)
			}
			keys = keys[:0]
			b.StartTimer()
		}
	}
}

// BenchmarkPodTeardown is the cost of removing a pod's network.
func BenchmarkPodTeardown(b *testing.B) {
	requireRoot(b)
	m := newTestManager(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if _, err := m.Setup("bench"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := m.Teardown("bench"); err != nil {
			b.Fatal(err)
		}
	}
}
