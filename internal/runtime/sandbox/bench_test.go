package sandbox_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

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
