//go:build linux

package memtrim

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DropExecutablePages reclaims the pages of the running binary's read-only
// mappings that all still match the file, and reports how many bytes of
// address space they cover. A mapping that holds private copies (the
// dynamic loader's relocations, made read-only afterwards) is left alone.
// Pages other processes map stay where they are.
func DropExecutablePages() (int, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("locating the executable: %w", err)
	}
	return DropFilePages(exe)
}

// DropFilePages does the same for the read-only mappings of any file, such
// as a database a library maps and reads through.
func DropFilePages(path string) (int, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("reading mappings: %w", err)
	}
	ranges, err := droppableMappings(f, path)
	f.Close()
	if err != nil {
		return 0, fmt.Errorf("reading mappings: %w", err)
	}
	total := 0
	for _, r := range ranges {
		// Without huge mappings a fault maps only the pages around it.
		for _, advice := range []int{unix.MADV_NOHUGEPAGE, unix.MADV_PAGEOUT} {
			if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r.start, r.end-r.start, uintptr(advice)); errno != 0 {
				return total, fmt.Errorf("madvise %#x-%#x: %w", r.start, r.end, errno)
			}
		}
		total += int(r.end - r.start)
	}
	return total, nil
}

// mapping is an address range of the process.
type mapping struct{ start, end uintptr }

// droppableMappings reads smaps and returns the non-writable mappings of
// path without anonymous (copied-on-write) pages.
func droppableMappings(smaps io.Reader, path string) ([]mapping, error) {
	var out []mapping
	var cur *mapping
	clean := false
	flush := func() {
		if cur != nil && clean {
			out = append(out, *cur)
		}
		cur = nil
	}
	sc := bufio.NewScanner(smaps)
	for sc.Scan() {
		line := sc.Text()
		if start, end, isHeader, ok := readOnlyMappingOf(line, path); isHeader {
			flush()
			if ok {
				cur, clean = &mapping{start, end}, true
			}
			continue
		}
		if cur == nil {
			continue
		}
		if v, ok := strings.CutPrefix(line, "Anonymous:"); ok && strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")) != "0" {
			clean = false
		}
	}
	flush()
	return out, sc.Err()
}

// readOnlyMappingOf parses one line of smaps. isHeader tells a mapping's
// first line from its fields; ok reports a non-writable mapping of path,
// with its range.
func readOnlyMappingOf(line, path string) (start, end uintptr, isHeader, ok bool) {
	fields := strings.Fields(line)
	if len(fields) < 5 || strings.HasSuffix(fields[0], ":") {
		return 0, 0, false, false
	}
	lo, hi, found := strings.Cut(fields[0], "-")
	if !found {
		return 0, 0, false, false
	}
	s, err1 := strconv.ParseUint(lo, 16, 64)
	e, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false, false
	}
	if len(fields) < 6 || strings.Join(fields[5:], " ") != path || e <= s {
		return 0, 0, true, false
	}
	perms := fields[1]
	if len(perms) != 4 || perms[1] == 'w' {
		return 0, 0, true, false
	}
	return uintptr(s), uintptr(e), true, true
}
