package process

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/batchlet/batchlet/internal/procstat"
	"github.com/batchlet/batchlet/internal/runtime"
	"github.com/batchlet/batchlet/internal/runtime/sandbox/isolate"
)

// BenchmarkSupervisorStart starts containers of /bin/true through the
// supervisor and waits for each to end, and reports the CPU time per
// container of the supervisor itself (sup-cpu-ms/op: not its containers,
// nor its fork server) and of this process, the agent's side
// (agent-cpu-ms/op). The supervisor's figure comes from clock ticks: run
// enough containers (-benchtime 2000x). The files live under TMPDIR; point
// it at a tmpfs to leave the file system's cost out.
func BenchmarkSupervisorStart(b *testing.B) {
	for _, tc := range []struct {
		name     string
		sandbox  bool
		parallel bool
	}{
		{name: "plain"},
		{name: "plain-parallel", parallel: true},
		{name: "namespaces", sandbox: true},
		{name: "namespaces-parallel", sandbox: true, parallel: true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if tc.sandbox && os.Geteuid() != 0 {
				b.Skip("namespaces need root")
			}
			r, err := New(Options{Root: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer stopBenchSupervisor(r)
			sup, err := r.SupervisorPID()
			if err != nil {
				b.Fatal(err)
			}
			dir := b.TempDir()
			var seq atomic.Int64
			one := func() error {
				n := strconv.FormatInt(seq.Add(1), 10)
				c := runtime.ContainerConfig{ID: "c" + n, Argv: []string{"/bin/true"},
					Env:      []string{"PATH=/usr/bin:/bin"},
					StateDir: filepath.Join(dir, n, "state"), LogPath: filepath.Join(dir, n, "0.log")}
				if tc.sandbox {
					c.Sandbox = &isolate.Spec{Namespaces: true, Hostname: "bench"}
				}
				ctr, err := r.Start(context.Background(), c)
				if err != nil {
					return err
				}
				<-ctr.Done()
				if e := ctr.Exit(); e.ExitCode != 0 {
					return fmt.Errorf("container exit %+v", e)
				}
				return nil
			}
			supBefore, agentBefore := procSelfCPU(b, sup), agentCPU()
			b.ResetTimer()
			if tc.parallel {
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := one(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			} else {
				for range b.N {
					if err := one(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			per := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
			b.ReportMetric(per(procSelfCPU(b, sup)-supBefore), "sup-cpu-ms/op")
			b.ReportMetric(per(agentCPU()-agentBefore), "agent-cpu-ms/op")
		})
	}
}

// stopBenchSupervisor kills r's supervisor, if one runs.
func stopBenchSupervisor(r *Runtime) {
	if pid, ok := runningSupervisor(r); ok {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// procSelfCPU is the user and system time of a live process itself,
// without its children.
func procSelfCPU(b *testing.B, pid int) time.Duration {
	cpu, err := procstat.ProcessCPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	return cpu
}

// agentCPU is this process's own user and system time.
func agentCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
