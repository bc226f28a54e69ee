package bench

import (
	"testing"
	"time"
)

func TestParseMachineCPU(t *testing.T) {
	stat := "cpu  1000 20 300 5000 40 6 7 80 90 0\ncpu0 500 10 150 2500 20 3 3 40 45 0\nintr 1 2 3\n"
	busy, idle, err := parseMachineCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	// user+nice+system+irq+softirq, and idle+iowait; steal and guest out.
	if want := 1333 * 10 * time.Millisecond; busy != want {
		t.Errorf("busy %s, want %s", busy, want)
	}
	if want := 5040 * 10 * time.Millisecond; idle != want {
		t.Errorf("idle %s, want %s", idle, want)
	}
	for _, bad := range []string{"", "intr 1\n", "cpu 1 2 3\n", "cpu 1 2 x 4 5 6 7 8\n"} {
		if _, _, err := parseMachineCPU(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, _, err := machineCPU(); err != nil {
		t.Errorf("this machine's /proc/stat: %v", err)
	}
}
