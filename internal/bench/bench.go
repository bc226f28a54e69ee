// Package bench measures batchlet the way BENCHMARKS.md reports it: whole
// server processes started from the binary, driven through the public API
// with client-go. Results are medians over repeated runs.
package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/batchlet/batchlet/internal/server"
)

// tempDir makes a temporary directory for a benchmark's servers beside
// where a server keeps its data by default (/var/lib for root), so the
// runs pay that filesystem's costs. A pod start creates directories and
// files in the data dir, and where they land matters: on the VMs of
// BENCHMARKS.md, a directory made under /tmp cost 5–10 times the CPU of
// one under /var/lib on the same ext4 filesystem. Where that parent
// cannot be written, the system's temporary directory is used.
func tempDir(pattern string) (string, error) {
	parent := filepath.Dir(server.DefaultDataDir())
	if err := os.MkdirAll(parent, 0o755); err == nil {
		if dir, err := os.MkdirTemp(parent, pattern); err == nil {
			return dir, nil
		}
	}
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", fmt.Errorf("creating benchmark directory: %w", err)
	}
	return dir, nil
}

// Durations is a sample of timings.
type Durations []time.Duration

// Percentile returns the p-th percentile (0..100), nearest rank.
func (d Durations) Percentile(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append(Durations(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(p/100*float64(len(s))+0.5) - 1
	if rank < 0 {
		rank = 0
	}
	if rank >= len(s) {
		rank = len(s) - 1
	}
	return s[rank]
}

// Median is the 50th percentile.
func (d Durations) Median() time.Duration { return d.Percentile(50) }

// Floats is a sample of rates or sizes.
type Floats []float64

// Median of the sample.
func (f Floats) Median() float64 {
	if len(f) == 0 {
		return 0
	}
	s := append(Floats(nil), f...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// report writes one result line.
func report(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, format+"\n", args...)
}
