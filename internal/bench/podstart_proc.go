package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/batchlet/batchlet/internal/procstat"
	"github.com/batchlet/batchlet/internal/runtime"
	"github.com/batchlet/batchlet/internal/runtime/process"
)

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// podStartCPU is the CPU time of this process, its reaped descendants and
// the supervisor pid with its reaped descendants.
func podStartCPU(supervisor int) (time.Duration, error) {
	sup, err := procTreeCPU(supervisor)
	if err != nil {
		return 0, fmt.Errorf("reading the supervisor's CPU time: %w", err)
	}
	return cpuTime() + sup, nil
}

// procTreeCPU is the CPU time (user and system) of process pid, of its
// reaped descendants so far and of its live children with theirs: for the
// runtime's supervisor, that of the containers it has run and of its
// long-lived fork server.
func procTreeCPU(pid int) (time.Duration, error) {
	total, err := procCPU(pid)
	if err != nil {
		return 0, err
	}
	for _, child := range procChildren(pid) {
		if cpu, err := procCPU(child); err == nil {
			total += cpu
		}
	}
	return total, nil
}

// procCPU is the CPU time of pid and its reaped descendants.
func procCPU(pid int) (time.Duration, error) {
	st, err := procstat.Read(pid)
	if err != nil {
		return 0, err
	}
	var total time.Duration
	for _, field := range []int{procstat.UTime, procstat.STime, procstat.CUTime, procstat.CSTime} {
		ticks, err := st.Uint(field)
		if err != nil {
			return 0, err
		}
		total += time.Duration(ticks) * clockTick
	}
	return total, nil
}

// procChildren lists the live children of every thread of pid.
func procChildren(pid int) []int {
	lists, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var pids []int
	for _, l := range lists {
		data, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if child, err := strconv.Atoi(f); err == nil {
				pids = append(pids, child)
			}
		}
	}
	return pids
}

// PodHoldResult is the supervisor's memory with n containers running.
type PodHoldResult struct {
	Containers int
	// IdleRSS and IdlePSS are the supervisor's before the containers
	// start; RSS and PSS while they all run (KiB).
	IdleRSS, IdlePSS int
	RSS, PSS         int
}

// podHold starts n containers that sleep, measures the supervisor's
// resident memory while they all run, and stops them.
func podHold(ctx context.Context, w io.Writer, rt *process.Runtime, supervisor int, dir string, n int) (PodHoldResult, error) {
	res := PodHoldResult{Containers: n}
	var err error
	if res.IdleRSS, res.IdlePSS, err = procMemory(supervisor); err != nil {
		return res, err
	}
	var ctrs []runtime.Container
	defer func() {
		for _, c := range ctrs {
			_ = stopContainer(c)
		}
		_ = os.RemoveAll(dir)
	}()
	for i := range n {
		name := "hold" + strconv.Itoa(i)
		c, err := rt.Start(ctx, runtime.ContainerConfig{ID: name, Argv: []string{"/bin/sleep", "3600"},
			Env:      []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
			StateDir: filepath.Join(dir, name, "state"), LogPath: filepath.Join(dir, name, "0.log")})
		if err != nil {
			return res, fmt.Errorf("starting container %d: %w", i, err)
		}
		ctrs = append(ctrs, c)
	}
	if res.RSS, res.PSS, err = procMemory(supervisor); err != nil {
		return res, err
	}
	report(w, "supervisor memory: idle RSS %d KiB PSS %d KiB; with %d containers RSS %d KiB PSS %d KiB",
		res.IdleRSS, res.IdlePSS, n, res.RSS, res.PSS)
	return res, nil
}

// procMemory is a process's resident set size and proportional set size
// in KiB.
func procMemory(pid int) (rss, pss int, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("reading the supervisor's memory: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "Rss:":
			rss = v
		case "Pss:":
			pss = v
		}
	}
	return rss, pss, nil
}

// supervisorsCPU is the CPU time so far of the process runtime's
// supervisors this process started (an in-process agent's) and of the
// containers they have reaped: unlike the containers of per-container
// shims, these are not this process's reaped children until the
// supervisor itself exits.
func supervisorsCPU() time.Duration {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	self := os.Getpid()
	var total time.Duration
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || procParent(pid) != self {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.Contains(cmdline, []byte("\x00"+process.ShimSubcommand+"\x00"+process.SuperviseArg+"\x00")) {
			continue
		}
		if cpu, err := procTreeCPU(pid); err == nil {
			total += cpu
		}
	}
	return total
}

// procParent is the parent pid of pid, 0 when unknown.
func procParent(pid int) int {
	st, err := procstat.Read(pid)
	if err != nil {
		return 0
	}
	ppid, _ := st.Uint(procstat.PPID)
	return int(ppid)
}
