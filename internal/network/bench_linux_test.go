//go:build linux

package network

import (
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
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

// BenchmarkPodNetworkCycle is a pod's whole network life, set-up and
// teardown, with the namespace destroyed as before pooling and parked for
// the next pod. cpu-ns/op is this process's CPU time; the kernel's
// destruction of namespaces runs in its own threads and is not in it.
func BenchmarkPodNetworkCycle(b *testing.B) {
	requireRoot(b)
	for _, c := range []struct {
		name string
		done func(*Manager, string) error
	}{{"destroy", (*Manager).Teardown}, {"reuse", (*Manager).Park}} {
		b.Run(c.name, func(b *testing.B) {
			m := newTestManager(b)
			start := processCPU(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				k := "cycle-" + strconv.Itoa(i)
				if _, err := m.Setup(k); err != nil {
					b.Fatal(err)
				}
				if err := c.done(m, k); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(processCPU(b)-start)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the CPU time this process has used, in nanoseconds.
func processCPU(b *testing.B) int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkCheckPristine is the check a finished pod's namespace passes
// before it is parked for another pod.
func BenchmarkCheckPristine(b *testing.B) {
	requireRoot(b)
	m := newTestManager(b)
	p, err := m.Setup("pristine")
	if err != nil {
		b.Fatal(err)
	}
	start := processCPU(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := m.checkPristine(p); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(processCPU(b)-start)/float64(b.N), "cpu-ns/op")
}
