// Package procstat reads a process's /proc/PID/stat, whose fields count
// from 1 as proc(5) numbers them.
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Stat is one reading of /proc/PID/stat.
type Stat struct {
	pid int
	// rest are the fields after the command name: field 3 onwards.
	rest []string
}

// Read reads the stat line of pid.
func Read(pid int) (Stat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Stat{}, err
	}
	return Parse(pid, string(data))
}

// Parse splits a stat line. The command name (field 2) may hold spaces
// and parentheses; the fields resume after its last ')'.
func Parse(pid int, line string) (Stat, error) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return Stat{}, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return Stat{pid: pid, rest: strings.Fields(line[i+1:])}, nil
}

// Uint is field n (3 or more) as a number.
func (s Stat) Uint(n int) (uint64, error) {
	if n < 3 || n-3 >= len(s.rest) {
		return 0, fmt.Errorf("malformed /proc/%d/stat: no field %d", s.pid, n)
	}
	v, err := strconv.ParseUint(s.rest[n-3], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("malformed /proc/%d/stat: field %d: %w", s.pid, n, err)
	}
	return v, nil
}

// userHZ is the unit of the time fields: USER_HZ, 100 on Linux.
const userHZ = 100

// CPU is the user and system time of the process itself, without its
// children.
func (s Stat) CPU() (time.Duration, error) {
	var total uint64
	for _, f := range []int{UTime, STime} {
		v, err := s.Uint(f)
		if err != nil {
			return 0, err
		}
		total += v
	}
	return time.Duration(total) * time.Second / userHZ, nil
}

// ProcessCPU is the user and system time of live process pid itself.
func ProcessCPU(pid int) (time.Duration, error) {
	st, err := Read(pid)
	if err != nil {
		return 0, err
	}
	return st.CPU()
}

// Field numbers this project reads (proc(5)).
const (
	PPID      = 4
	UTime     = 14 // user time of the process, in clock ticks
	STime     = 15
	CUTime    = 16 // of its reaped children
	CSTime    = 17
	StartTime = 22 // clock ticks after boot
)
