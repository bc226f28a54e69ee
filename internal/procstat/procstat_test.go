package procstat

import (
	"os"
	"testing"
	"time"
)

func TestParseSkipsACommandNameWithSpacesAndParentheses(t *testing.T) {
	line := "42 (a (b) c) S 7 42 42 0 -1 4194560 100 0 0 0 11 12 13 14 20 0 1 0 9999 1000 10\n"
	st, err := Parse(42, line)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field int
		want  uint64
	}{{PPID, 7}, {UTime, 11}, {STime, 12}, {CUTime, 13}, {CSTime, 14}, {StartTime, 9999}} {
		if got, err := st.Uint(tc.field); err != nil || got != tc.want {
			t.Errorf("field %d = %d, %v; want %d", tc.field, got, err, tc.want)
		}
	}
	if _, err := st.Uint(40); err == nil {
		t.Error("a field past the end read without error")
	}
	if _, err := st.Uint(3); err == nil {
		t.Error("the state letter read as a number")
	}
	if _, err := Parse(1, "no parenthesis"); err == nil {
		t.Error("a line without the command name parsed")
	}
}

func TestReadOwnProcess(t *testing.T) {
	st, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if ppid, err := st.Uint(PPID); err != nil || int(ppid) != os.Getppid() {
		t.Fatalf("ppid = %d, %v; want %d", ppid, err, os.Getppid())
	}
}

func TestCPUIsOwnUserAndSystemTime(t *testing.T) {
	// utime 250 and stime 50 ticks; the children's 7 and 9 are not counted.
	st, err := Parse(1, "1 (x) S 0 1 1 0 -1 0 0 0 0 0 250 50 7 9 20 0 1 0 5 0 0")
	if err != nil {
		t.Fatal(err)
	}
	if cpu, err := st.CPU(); err != nil || cpu != 3*time.Second {
		t.Fatalf("CPU() = %v, %v; want 3s", cpu, err)
	}
}

func TestProcessCPUOfThisProcess(t *testing.T) {
	// Burn some CPU so that at least one tick is counted.
	deadline := time.Now().Add(50 * time.Millisecond)
	for n := 0; time.Now().Before(deadline); n++ {
	}
	cpu, err := ProcessCPU(os.Getpid())
	if err != nil || cpu <= 0 {
		t.Fatalf("ProcessCPU(self) = %v, %v; want some CPU time", cpu, err)
	}
}
