//go:build linux

package memtrim

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DropExecutablePages unmaps the read-only and executable mappings of the
// running binary, and reports how many bytes of address space it covered.
// Writable mappings are left alone: their pages may differ from the file.
func DropExecutablePages() (int, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("locating the executable: %w", err)
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, fmt.Errorf("reading mappings: %w", err)
	}
	defer f.Close()
	var ranges [][2]uintptr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		start, end, ok := readOnlyMappingOf(sc.Text(), exe)
		if ok {
			ranges = append(ranges, [2]uintptr{start, end})
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading mappings: %w", err)
	}
	total := 0
	for _, r := range ranges {
		// The page cache may hold the binary in 2 MiB folios, mapped
		// whole on a fault; without huge mappings a fault maps only the
		// pages around it.
		for _, advice := range []int{unix.MADV_NOHUGEPAGE, unix.MADV_DONTNEED} {
			if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r[0], r[1]-r[0], uintptr(advice)); errno != 0 {
				return total, fmt.Errorf("madvise %#x-%#x: %w", r[0], r[1], errno)
			}
		}
		total += int(r[1] - r[0])
	}
	return total, nil
}

// readOnlyMappingOf parses one line of /proc/self/maps and reports the
// range of a private, non-writable mapping of path.
func readOnlyMappingOf(line, path string) (start, end uintptr, ok bool) {
	fields := strings.Fields(line)
	if len(fields) < 6 || strings.Join(fields[5:], " ") != path {
		return 0, 0, false
	}
	perms := fields[1]
	if len(perms) != 4 || perms[1] == 'w' || perms[3] != 'p' {
		return 0, 0, false
	}
	lo, hi, found := strings.Cut(fields[0], "-")
	if !found {
		return 0, 0, false
	}
	s, err1 := strconv.ParseUint(lo, 16, 64)
	e, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil || e <= s {
		return 0, 0, false
	}
	return uintptr(s), uintptr(e), true
}
