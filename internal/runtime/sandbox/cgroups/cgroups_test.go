package cgroups

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/batchlet/batchlet/internal/runtime/sandbox"
)

const allocEnv = "BATCHLET_CGROUPS_TEST_ALLOC_MIB"

// The test binary doubles as the sandbox init and as a memory hog.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == sandbox.InitSubcommand {
		os.Exit(sandbox.InitMain(os.Args[2:]))
	}
	if v := os.Getenv(allocEnv); v != "" {
		n, _ := strconv.Atoi(v)
		var keep [][]byte
		for i := 0; i < n; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			keep = append(keep, b)
		}
		fmt.Println("allocated", len(keep))
		os.Exit(0)
	}
	code := m.Run()
	_ = Detect(Options{Name: "batchlet-test"}).RemoveParent()
	os.Exit(code)
}

func manager(t *testing.T, need ...string) *Manager {
	t.Helper()
	m := Detect(Options{Name: "batchlet-test"})
	caps := m.Capabilities()
	for _, n := range need {
		if !contains(caps.Enforced(), n) {
			t.Skipf("host does not offer the %s controller (%s)", n, caps)
		}
	}
	return m
}

func group(t *testing.T, m *Manager, r Resources) *Group {
	t.Helper()
	path := fmt.Sprintf("pod-%d/c", time.Now().UnixNano())
	g, err := m.Create(path, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Open(strings.Split(path, "/")[0]).Destroy(); err != nil {
			t.Error(err)
		}
	})
	return g
}

// runIn runs cmd inside g, joined before its command starts.
func runIn(t *testing.T, g *Group, cmd *exec.Cmd) (string, *os.ProcessState) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	setup, err := sandbox.Wrap(cmd, sandbox.Spec{CgroupProcs: g.ProcsFiles()}, []string{os.Args[0], sandbox.InitSubcommand})
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		setup.Abort()
		t.Fatal(err)
	}
	if err := setup.Wait(); err != nil {
		t.Fatal(err)
	}
	var ee *exec.ExitError
	if err := cmd.Wait(); err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return out.String(), cmd.ProcessState
}

func TestMemoryLimitOOMKills(t *testing.T) {
	m := manager(t, Memory)
	c := &corev1.Container{Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
		corev1.ResourceMemory: resource.MustParse("50Mi")}}}
	g := group(t, m, ContainerResources(c))
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{allocEnv + "=200"}
	out, st := runIn(t, g, cmd)
	ws := st.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL || 128+int(ws.Signal()) != 137 {
		t.Fatalf("ended with %v (%q), want SIGKILL", ws, out)
	}
	n, err := g.OOMKills()
	if err != nil || n == 0 {
		t.Errorf("OOM kills = %d, %v; want at least one", n, err)
	}
	// Without a limit the same allocation succeeds.
	g2 := group(t, m, Resources{})
	cmd = exec.Command(os.Args[0])
	cmd.Env = []string{allocEnv + "=200"}
	if out, st := runIn(t, g2, cmd); !st.Success() {
		t.Errorf("unlimited run failed: %q", out)
	}
	if n, _ := g2.OOMKills(); n != 0 {
		t.Errorf("unlimited group reports %d OOM kills", n)
	}
}

func TestPidsLimitRefusesForks(t *testing.T) {
	m := manager(t, Pids)
	g := group(t, m, Resources{PidsLimit: 4})
	out, st := runIn(t, g, exec.Command("/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 30 >/dev/null 2>&1 & done; echo done"))
	if st.Success() && !strings.Contains(out, "fork") {
		t.Errorf("8 forks under pids.max=4 succeeded: %q", out)
	}
	if err := g.Destroy(); err != nil {
		t.Fatal(err)
	}
	if pids, _ := g.Pids(); len(pids) != 0 {
		t.Errorf("processes left after Destroy: %v", pids)
	}
}

func TestCPUFiles(t *testing.T) {
	m := manager(t, CPU)
	g := group(t, m, Resources{CPULimitMilli: 500, CPURequestMilli: 250})
	d, _ := g.dirFor(CPU)
	read := func(f string) string {
		b, err := os.ReadFile(filepath.Join(d.path, f))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	if d.h.v2 {
		if got := read("cpu.max"); got != "50000 100000" {
			t.Errorf("cpu.max = %q", got)
		}
		if got := read("cpu.weight"); got != "10" {
			t.Errorf("cpu.weight = %q", got)
		}
		return
	}
	if got := read("cpu.cfs_quota_us"); got != "50000" {
		t.Errorf("cfs_quota_us = %q", got)
	}
	if got := read("cpu.cfs_period_us"); got != "100000" {
		t.Errorf("cfs_period_us = %q", got)
	}
	if got := read("cpu.shares"); got != "256" {
		t.Errorf("shares = %q", got)
	}
}

func TestCheckWithoutControllers(t *testing.T) {
	m := &Manager{caps: capabilities(nil)}
	err := m.Check("spec.containers[0]", Resources{MemoryLimit: 1 << 20})
	var ue *sandbox.UnsupportedError
	if !errors.As(err, &ue) || ue.Field != "spec.containers[0].resources.limits.memory" {
		t.Fatalf("err = %v", err)
	}
	if err := m.Check("spec.containers[0]", Resources{CPURequestMilli: 100}); err != nil {
		t.Errorf("requests need no controller: %v", err)
	}
}

func TestPodResources(t *testing.T) {
	lim := func(mem, cpu string) corev1.Container {
		l := corev1.ResourceList{}
		if mem != "" {
			l[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		if cpu != "" {
			l[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		return corev1.Container{Resources: corev1.ResourceRequirements{Limits: l}}
	}
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{lim("300Mi", "100m")},
		Containers:     []corev1.Container{lim("100Mi", "1"), lim("50Mi", "")},
	}}
	r := PodResources(pod)
	if r.MemoryLimit != 300<<20 || r.CPULimitMilli != 0 {
		t.Errorf("pod resources %+v", r)
	}
}
