package cgroups

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type groupDir struct {
	h    *hierarchy
	path string
}

// Group is one cgroup, present in every hierarchy batchlet uses.
type Group struct {
	path string
	dirs []groupDir
}

// Path is the group's path below batchlet's parent.
func (g *Group) Path() string { return g.path }

// ProcsFiles are the cgroup.procs files a process writes "0" into to join
// the group (see sandbox.Spec.CgroupProcs).
func (g *Group) ProcsFiles() []string {
	out := make([]string, 0, len(g.dirs))
	for _, d := range g.dirs {
		out = append(out, filepath.Join(d.path, "cgroup.procs"))
	}
	return out
}

// Add moves the process pid into the group.
func (g *Group) Add(pid int) error {
	for _, f := range g.ProcsFiles() {
		if err := os.WriteFile(f, []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("adding %d to cgroup %s: %w", pid, filepath.Dir(f), err)
		}
	}
	return nil
}

func (g *Group) dirFor(ctrl string) (groupDir, bool) {
	for _, d := range g.dirs {
		if contains(d.h.controllers, ctrl) {
			return d, true
		}
	}
	return groupDir{}, false
}

func write(dir, file, value string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0); err != nil {
		return fmt.Errorf("setting %s in %s: %w", file, dir, err)
	}
	return nil
}

// apply writes r into the group's controller files; zero fields are
// reset to unlimited so a reused group carries no stale limit.
func (g *Group) apply(r Resources) error {
	if d, ok := g.dirFor(Memory); ok {
		if err := applyMemory(d, r.MemoryLimit); err != nil {
			return err
		}
	}
	if d, ok := g.dirFor(CPU); ok {
		if err := applyCPU(d, r); err != nil {
			return err
		}
	}
	if d, ok := g.dirFor(Pids); ok {
		v := "max"
		if r.PidsLimit > 0 {
			v = strconv.FormatInt(r.PidsLimit, 10)
		}
		if err := write(d.path, "pids.max", v); err != nil {
			return err
		}
	}
	return nil
}

func applyMemory(d groupDir, limit int64) error {
	if d.h.v2 {
		v := "max"
		if limit > 0 {
			v = strconv.FormatInt(limit, 10)
		}
		if err := write(d.path, "memory.max", v); err != nil {
			return err
		}
		// Swap would let a limited container page out instead of being
		// OOM-killed, which is not what a limit means in Kubernetes.
		if _, err := os.Stat(filepath.Join(d.path, "memory.swap.max")); err == nil && limit > 0 {
			return write(d.path, "memory.swap.max", "0")
		}
		return nil
	}
	v := "-1"
	if limit > 0 {
		v = strconv.FormatInt(limit, 10)
	}
	if err := write(d.path, "memory.limit_in_bytes", v); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(d.path, "memory.memsw.limit_in_bytes")); err == nil {
		return write(d.path, "memory.memsw.limit_in_bytes", v)
	}
	return nil
}

// cfsPeriod is the CFS period kubelet uses, in microseconds.
const cfsPeriod = 100000

func applyCPU(d groupDir, r Resources) error {
	shares := milliToShares(r.CPURequestMilli)
	quota := int64(-1)
	if r.CPULimitMilli > 0 {
		quota = r.CPULimitMilli * cfsPeriod / 1000
		if quota < 1000 {
			quota = 1000 // the kernel's minimum
		}
	}
	if d.h.v2 {
		q := "max"
		if quota > 0 {
			q = strconv.FormatInt(quota, 10)
		}
		if err := write(d.path, "cpu.max", fmt.Sprintf("%s %d", q, cfsPeriod)); err != nil {
			return err
		}
		return write(d.path, "cpu.weight", strconv.FormatInt(sharesToWeight(shares), 10))
	}
	if err := write(d.path, "cpu.cfs_period_us", strconv.Itoa(cfsPeriod)); err != nil {
		return err
	}
	if err := write(d.path, "cpu.cfs_quota_us", strconv.FormatInt(quota, 10)); err != nil {
		return err
	}
	return write(d.path, "cpu.shares", strconv.FormatInt(shares, 10))
}

// milliToShares converts a CPU request as kubelet does: 1024 shares per
// CPU, at least 2.
func milliToShares(milli int64) int64 {
	s := milli * 1024 / 1000
	if s < 2 {
		return 2
	}
	if s > 262144 {
		return 262144
	}
	return s
}

// sharesToWeight maps v1 shares [2, 262144] onto v2 weight [1, 10000].
func sharesToWeight(shares int64) int64 {
	return 1 + ((shares-2)*9999)/262142
}

// OOMKills is the number of processes the kernel's OOM killer killed in
// the group because of its memory limit.
func (g *Group) OOMKills() (uint64, error) {
	d, ok := g.dirFor(Memory)
	if !ok {
		return 0, nil
	}
	file := "memory.oom_control"
	if d.h.v2 {
		file = "memory.events"
	}
	data, err := os.ReadFile(filepath.Join(d.path, file))
	if err != nil {
		return 0, fmt.Errorf("reading OOM events: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == "oom_kill" {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing %s: %w", file, err)
			}
			return n, nil
		}
	}
	return 0, nil
}

// Pids lists the processes in the group.
func (g *Group) Pids() ([]int, error) {
	seen := map[int]bool{}
	var out []int
	for _, f := range g.ProcsFiles() {
		data, err := os.ReadFile(f)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("reading %s: %w", f, err)
		}
		for _, s := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(s); err == nil && !seen[pid] {
				seen[pid] = true
				out = append(out, pid)
			}
		}
	}
	return out, nil
}

// killTimeout bounds how long Destroy waits for killed processes to leave.
const killTimeout = 5 * time.Second

// Kill sends SIGKILL to every process in the group, repeatedly, until it
// is empty (processes may fork while being killed).
func (g *Group) Kill() error {
	deadline := time.Now().Add(killTimeout)
	for delay := time.Millisecond; ; delay = min(delay*2, 50*time.Millisecond) {
		pids, err := g.Pids()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s: %d processes survived SIGKILL", g.path, len(pids))
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(delay)
	}
}

// Destroy kills the group's processes and removes it (and any groups
// below it) from every hierarchy.
func (g *Group) Destroy() error {
	if err := g.Kill(); err != nil {
		return err
	}
	for _, d := range g.dirs {
		if err := removeTree(d.path); err != nil {
			return err
		}
	}
	return nil
}

// removeTree removes a cgroup directory bottom-up; cgroup directories
// hold only virtual files, so rmdir is the way to remove them.
func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("reading cgroup %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := syscall.Rmdir(dir); err != nil && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("removing cgroup %s: %w", dir, err)
	}
	return nil
}
