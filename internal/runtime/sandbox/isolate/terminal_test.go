package isolate

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair.
func openPTY(t *testing.T) (ptm, pts *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { ptm.Close() })
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pts.Close() })
	return ptm, pts
}

// TestForkedTerminalBecomesControllingTerminal: with Setctty the command
// leads a new session whose controlling terminal is its stdin.
func TestForkedTerminalBecomesControllingTerminal(t *testing.T) {
	for _, ns := range []bool{false, true} {
		t.Run(fmt.Sprintf("namespaces=%v", ns), func(t *testing.T) {
			if ns {
				requireNamespaces(t)
			}
			_, pts := openPTY(t)
			f := startForkServer(t)
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			// Fields 6 and 7 of stat: the session and the controlling tty.
			cmd := exec.Command("/bin/sh", "-c", `set -- $(cut -d' ' -f6,7 /proc/$$/stat); echo $(($1 == $$)) $(($2 != 0)); tty`)
			cmd.Env = []string{"PATH=/usr/bin:/bin"}
			cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, w, w
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
			proc, runErr := f.Run(cmd, Spec{Namespaces: ns})
			w.Close()
			if _, err := proc.Wait(); err != nil {
				t.Fatal(err)
			}
			if runErr != nil {
				t.Fatal(runErr)
			}
			out := make([]byte, 4096)
			n, _ := r.Read(out)
			lines := strings.Split(strings.TrimSpace(string(out[:n])), "\n")
			if len(lines) != 2 || lines[0] != "1 1" || lines[1] != pts.Name() {
				t.Fatalf("output %q: want a session leader (1) with a terminal (1) on %s", out[:n], pts.Name())
			}
		})
	}
}
