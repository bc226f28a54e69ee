//go:build linux

package memtrim

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// executableRSS sums the resident pages of the read-only mappings of the
// running binary, in kB.
func executableRSS(t *testing.T) int {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	total, inExe := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if _, _, ok := readOnlyMappingOf(line, exe); ok {
			inExe = true
			continue
		}
		if fields := strings.Fields(line); len(fields) >= 5 && strings.Contains(fields[0], "-") {
			inExe = false
			continue
		}
		if v, ok := strings.CutPrefix(line, "Rss:"); ok && inExe {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			total += kb
		}
	}
	return total
}

func TestDropExecutablePagesReleasesTheBinarysPages(t *testing.T) {
	before := executableRSS(t)
	if before == 0 {
		t.Skip("no resident pages of the test binary to release")
	}
	n, err := DropExecutablePages()
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no mapping of the executable was found")
	}
	after := executableRSS(t)
	// What runs from here on faults back in, but far less than the whole
	// start-up touched.
	if after >= before {
		t.Fatalf("resident pages of the executable: %d kB before, %d kB after", before, after)
	}
	t.Logf("resident pages of the executable: %d kB before, %d kB after", before, after)
}

func TestReadOnlyMappingOfTakesOnlyPrivateReadOnlyMappingsOfThePath(t *testing.T) {
	const exe = "/usr/local/bin/batchlet server"
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{"00400000-016ce000 r--p 00000000 fe:00 10183014    /usr/local/bin/batchlet server", true},
		{"016ce000-03c37000 r-xp 012ce000 fe:00 10183014    /usr/local/bin/batchlet server", true},
		{"068d8000-06a00000 rw-p 064d7000 fe:00 10183014    /usr/local/bin/batchlet server", false},
		{"7f00-8f00 r--s 00000000 fe:00 1    /usr/local/bin/batchlet server", false},
		{"016ce000-03c37000 r-xp 012ce000 fe:00 10183014    /usr/lib/libc.so.6", false},
		{"zz-03c37000 r-xp 012ce000 fe:00 10183014    /usr/local/bin/batchlet server", false},
		{"03c37000-016ce000 r-xp 012ce000 fe:00 10183014    /usr/local/bin/batchlet server", false},
		{"garbage", false},
	} {
		if _, _, ok := readOnlyMappingOf(tc.line, exe); ok != tc.ok {
			t.Errorf("readOnlyMappingOf(%q) = %v, want %v", tc.line, ok, tc.ok)
		}
	}
}
