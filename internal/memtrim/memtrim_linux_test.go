//go:build linux

package memtrim

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// executableRSS sums the resident pages of the droppable mappings of the
// running binary, in kB.
func executableRSS(t *testing.T) int {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	return mappedRSS(t, exe)
}

// mappedRSS sums the resident pages of the read-only mappings of path.
func mappedRSS(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	total, in := 0, false
	for _, line := range strings.Split(string(data), "\n") {
		if _, _, isHeader, ok := readOnlyMappingOf(line, path); isHeader {
			in = ok
			continue
		}
		if v, found := strings.CutPrefix(line, "Rss:"); found && in {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
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
		t.Fatal("no mapping of the executable was dropped")
	}
	after := executableRSS(t)
	// What runs from here on faults back in, but far less than the whole
	// start-up touched.
	if after >= before {
		t.Fatalf("resident pages of the executable: %d kB before, %d kB after", before, after)
	}
	t.Logf("resident pages of the executable: %d kB before, %d kB after", before, after)
}

// A database mapped shared and read-only, as etcd maps its backend, is
// released as well; its contents are untouched.
func TestDropFilePagesReleasesASharedReadOnlyMapping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	const size = 8 << 20
	content := make([]byte, size)
	for i := range content {
		content[i] = byte(i / 4096)
	}
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(data)
	sum := 0
	for i := 0; i < size; i += 4096 {
		sum += int(data[i])
	}
	before := mappedRSS(t, path)
	if _, err := DropFilePages(path); err != nil {
		t.Fatal(err)
	}
	after := mappedRSS(t, path)
	if before < size/1024/2 || after >= before/2 {
		t.Fatalf("resident pages of the mapping: %d kB before, %d kB after", before, after)
	}
	again := 0
	for i := 0; i < size; i += 4096 {
		again += int(data[i])
	}
	if again != sum {
		t.Fatalf("contents read back differ: sum %d, was %d", again, sum)
	}
}

const smapsSample = `00400000-016ce000 r--p 00000000 fe:00 10183014                           /usr/local/bin/batchlet server
Size:              19256 kB
Rss:                 120 kB
Anonymous:             0 kB
016ce000-03c37000 r-xp 012ce000 fe:00 10183014                           /usr/local/bin/batchlet server
Size:              38308 kB
Anonymous:             0 kB
068d8000-068e0000 r--p 064d7000 fe:00 10183014                           /usr/local/bin/batchlet server
Size:                 32 kB
Anonymous:            28 kB
068e0000-06a00000 rw-p 064df000 fe:00 10183014                           /usr/local/bin/batchlet server
Anonymous:           900 kB
06a00000-06b00000 rw-p 00000000 00:00 0
Anonymous:           900 kB
7f00-8f00 r--s 00000000 fe:00 1                           /usr/local/bin/batchlet server
Anonymous:             0 kB
7f0000-8f0000 r-xp 00000000 fe:00 2                           /usr/lib/libc.so.6
Anonymous:             0 kB
`

func TestDroppableMappingsAreTheFilesCleanReadOnlyOnes(t *testing.T) {
	got, err := droppableMappings(strings.NewReader(smapsSample), "/usr/local/bin/batchlet server")
	if err != nil {
		t.Fatal(err)
	}
	want := []mapping{{0x00400000, 0x016ce000}, {0x016ce000, 0x03c37000}, {0x7f00, 0x8f00}}
	if len(got) != len(want) {
		t.Fatalf("mappings = %x, want %x (the relocated read-only one, writable and other files' left out)", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("mappings = %x, want %x", got, want)
		}
	}
}
