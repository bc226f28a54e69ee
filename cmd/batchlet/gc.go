package main

import (
	"os"
	"runtime/debug"
)

// serverGCPercent is the garbage collector's target for batchlet's own
// commands (server, agent, benchmarks) when GOGC does not set one. A busy
// server allocates fast against a small live heap, so at Go's default of
// 100 its collector took about 11 % of the server's CPU in a 3000-pod
// Indexed Job; at 200 it runs half as often (6–7 %), for ~1 MiB more idle
// RSS and a larger heap under load. BENCHMARKS.md has the measurements.
const serverGCPercent = 200

// tuneGC sets serverGCPercent unless the user chose with GOGC.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serverGCPercent)
	}
}
