package isolate

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/batchlet/batchlet/internal/procstat"
)

// BenchmarkInitStep measures what the init step costs a container: it
// starts and reaps /bin/true through it and reports the CPU time of the
// children per start (cpu-ms/op), the figure that bounds short-pod
// throughput. ISOLATE_INIT=go measures the Go init step; ISOLATE_INIT_BIN
// names another binary to run as the init step (a built batchlet-shim).
func BenchmarkInitStep(b *testing.B) {
	argv := initArgv()
	if bin := os.Getenv("ISOLATE_INIT_BIN"); bin != "" {
		argv = []string{bin, InitSubcommand}
	}
	vol := b.TempDir()
	cases := []struct {
		name   string
		wrap   bool
		forked bool
		sp     Spec
	}{
		{name: "bare"},
		{name: "init-step", wrap: true},
		{name: "forked", forked: true},
		{name: "namespaces", wrap: true, sp: Spec{Namespaces: true, Hostname: "bench"}},
		{name: "forked+namespaces", forked: true, sp: Spec{Namespaces: true, Hostname: "bench"}},
		// The default capability set of a container (sandbox.DefaultCapabilities).
		{name: "forked+namespaces+capabilities", forked: true, sp: Spec{Namespaces: true, Hostname: "bench",
			LimitCapabilities: true, Capabilities: 0xa80425fb}},
		{name: "namespaces+volume", wrap: true, sp: Spec{Namespaces: true, Hostname: "bench",
			Mounts: []Mount{{Source: vol, Target: "/batchlet-bench-input"}}}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			if tc.sp.Namespaces && os.Geteuid() != 0 {
				b.Skip("namespaces need root")
			}
			var server *ForkServer
			if tc.forked {
				if useGoInit {
					b.Skip("the Go init step serves no forks")
				}
				var err error
				if server, err = StartForkServer(argv); err != nil {
					b.Fatal(err)
				}
				defer func() {
					server.Close()
					_ = server.cmd.Wait()
				}()
			}
			// The fork server's own CPU (its clones) counts, read live.
			cpu := func() time.Duration {
				t := childrenCPU(b)
				if server != nil {
					t += liveCPU(b, server.Pid())
				}
				return t
			}
			before := cpu()
			for i := 0; i < b.N; i++ {
				sp := tc.sp
				if len(sp.Mounts) > 0 {
					sp.ScratchDir = filepath.Join(b.TempDir(), "scratch")
					if err := os.Mkdir(sp.ScratchDir, 0o700); err != nil {
						b.Fatal(err)
					}
				}
				var err error
				if server != nil {
					err = forkTrue(server, sp)
				} else {
					err = startTrue(argv, tc.wrap, sp)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpu()-before)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}

// liveCPU is the user and system time of a live process.
func liveCPU(b *testing.B, pid int) time.Duration {
	cpu, err := procstat.ProcessCPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	return cpu
}

func forkTrue(server *ForkServer, sp Spec) error {
	cmd := exec.Command("/bin/true")
	cmd.Env = []string{}
	proc, err := server.Run(cmd, sp)
	if proc != nil {
		if _, werr := proc.Wait(); err == nil {
			err = werr
		}
	}
	return err
}

func childrenCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startTrue(argv []string, wrap bool, sp Spec) error {
	cmd := exec.Command("/bin/true")
	cmd.Env = []string{}
	var setup *Setup
	if wrap {
		var err error
		if setup, err = Wrap(cmd, sp, argv); err != nil {
			return err
		}
	}
	if err := cmd.Start(); err != nil {
		if setup != nil {
			setup.Abort()
		}
		return err
	}
	if setup != nil {
		if err := setup.Wait(); err != nil {
			_ = cmd.Wait()
			return err
		}
	}
	return cmd.Wait()
}
