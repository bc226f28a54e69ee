package sandbox_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchlet/batchlet/internal/runtime/sandbox"
	"github.com/batchlet/batchlet/internal/runtime/sandbox/cgroups"
)

// BenchmarkStart measures starting and reaping /bin/true with each level
// of isolation, the cost a pod's container start pays for it.
func BenchmarkStart(b *testing.B) {
	vol := b.TempDir()
	cases := []struct {
		name    string
		wrap    bool
		spec    sandbox.Spec
		cgroups bool
	}{
		{name: "plain"},
		{name: "init-step", wrap: true},
		{name: "namespaces", wrap: true, spec: sandbox.Spec{Namespaces: true, Hostname: "bench"}},
		{name: "namespaces+volume", wrap: true, spec: sandbox.Spec{Namespaces: true, Hostname: "bench",
			Mounts: []sandbox.Mount{{Source: vol, Target: "/batchlet-bench-input"}}}},
		{name: "cgroups", wrap: true, cgroups: true},
		{name: "namespaces+volume+cgroups", wrap: true, cgroups: true, spec: sandbox.Spec{Namespaces: true, Hostname: "bench",
			Mounts: []sandbox.Mount{{Source: vol, Target: "/batchlet-bench-input"}}}},
	}
	mgr := cgroups.Detect(cgroups.Options{Name: "batchlet-bench"})
	b.Cleanup(func() { _ = mgr.RemoveParent() })
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			if tc.spec.Namespaces && os.Geteuid() != 0 {
				b.Skip("namespaces need root")
			}
			if tc.cgroups && len(mgr.Capabilities().Enforced()) == 0 {
				b.Skip("no cgroup controllers")
			}
			for i := 0; i < b.N; i++ {
				if err := startOnce(b, tc.wrap, tc.spec, tc.cgroups, mgr, i); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func startOnce(b *testing.B, wrap bool, sp sandbox.Spec, useCgroups bool, mgr *cgroups.Manager, i int) error {
	cmd := exec.Command("/bin/true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var g *cgroups.Group
	if useCgroups {
		var err error
		g, err = mgr.Create(fmt.Sprintf("b%d-%d", time.Now().UnixNano(), i), cgroups.Resources{MemoryLimit: 64 << 20, CPULimitMilli: 500, PidsLimit: 64})
		if err != nil {
			return err
		}
		sp.CgroupProcs = g.ProcsFiles()
	}
	if len(sp.Mounts) > 0 {
		sp.ScratchDir = filepath.Join(b.TempDir(), "scratch")
		if err := os.Mkdir(sp.ScratchDir, 0o700); err != nil {
			return err
		}
	}
	var setup *sandbox.Setup
	if wrap {
		var err error
		if setup, err = sandbox.Wrap(cmd, sp, []string{os.Args[0], sandbox.InitSubcommand}); err != nil {
			return err
		}
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	if setup != nil {
		if err := setup.Wait(); err != nil {
			return err
		}
	}
	if err := cmd.Wait(); err != nil {
		return err
	}
	if g != nil {
		return g.Destroy()
	}
	return nil
}

// BenchmarkWriteEtcFiles writes a pod's /etc files into the fresh sandbox
// directory of each pod, on a tmpfs as the agent's run dir is: created in
// place ("new"), through a temporary file and a rename each ("rename", how
// an existing file is replaced), and over the files of an earlier set-up
// ("again").
func BenchmarkWriteEtcFiles(b *testing.B) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "job-0-abcde", Namespace: "default"}}
	files := sandbox.EtcFiles{PodIPs: []string{"10.244.0.7"}, ClusterDomain: "cluster.local",
		ResolvConf: []byte("nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n")}
	dirs := func(b *testing.B) []string {
		root := b.TempDir()
		if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
			if d, err := os.MkdirTemp("/dev/shm", "batchlet-bench-"); err == nil {
				root = d
				b.Cleanup(func() { _ = os.RemoveAll(d) })
			}
		}
		out := make([]string, b.N)
		for i := range out {
			out[i] = filepath.Join(root, strconv.Itoa(i))
			if err := os.Mkdir(out[i], 0o750); err != nil {
				b.Fatal(err)
			}
		}
		return out
	}
	b.Run("new", func(b *testing.B) {
		ds := dirs(b)
		b.ResetTimer()
		defer cpuTimer(b)()
		for i := 0; i < b.N; i++ {
			f := files
			f.Dir = ds[i]
			if _, err := sandbox.WriteEtcFiles(pod, f); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rename", func(b *testing.B) {
		ds := dirs(b)
		b.ResetTimer()
		defer cpuTimer(b)()
		for i := 0; i < b.N; i++ {
			if err := sandbox.WriteEtcFilesByRename(pod, ds[i], files); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("again", func(b *testing.B) {
		ds := dirs(b)
		for i := range ds {
			f := files
			f.Dir = ds[i]
			if _, err := sandbox.WriteEtcFiles(pod, f); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		defer cpuTimer(b)()
		for i := 0; i < b.N; i++ {
			f := files
			f.Dir = ds[i]
			if _, err := sandbox.WriteEtcFiles(pod, f); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// cpuTimer reports the process's CPU time per op, user and system: on a
// busy machine a better measure of work done than the time taken.
func cpuTimer(b *testing.B) func() {
	b.Helper()
	var start syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &start); err != nil {
		b.Fatal(err)
	}
	return func() {
		var end syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &end); err != nil {
			b.Fatal(err)
		}
		ns := func(ru *syscall.Rusage) int64 { return ru.Utime.Nano() + ru.Stime.Nano() }
		b.ReportMetric(float64(ns(&end)-ns(&start))/float64(b.N), "cpu-ns/op")
	}
}
