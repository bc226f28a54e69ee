package isolate

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// runPending runs script through a prestarted init step and returns its
// output and wait status.
func runPending(t *testing.T, sp Spec, script string) (string, syscall.WaitStatus, error) {
	t.Helper()
	p, err := Prestart(initArgv(), sp.Namespaces)
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "MARK=x"}
	cmd.Stdout, cmd.Stderr = w, w
	proc, runErr := p.Run(cmd, sp)
	w.Close()
	ps, err := proc.Wait()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return out.String(), ps.Sys().(syscall.WaitStatus), runErr
}

func TestPendingRunsContainerInFreshNamespaces(t *testing.T) {
	requireNamespaces(t)
	target := hostTarget(t)
	sp := Spec{Namespaces: true, Hostname: "pending-pod", ScratchDir: scratch(t),
		Mounts: []Mount{{Source: t.TempDir(), Target: target}}}
	out, ws, err := runPending(t, sp, "echo $$ $(hostname) $MARK; test -d "+target+" && echo mounted; exit 5")
	if err != nil {
		t.Fatal(err)
	}
	if out != "1 pending-pod x\nmounted\n" || ws.ExitStatus() != 5 {
		t.Fatalf("output %q, exit %d", out, ws.ExitStatus())
	}
	if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("mount target %s visible on the host: %v", target, err)
	}
}

func TestPendingWithoutNamespacesLeadsItsGroup(t *testing.T) {
	out, ws, err := runPending(t, Spec{}, `cut -d' ' -f5 /proc/$$/stat; echo $$`)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(out)
	if len(lines) != 2 || lines[0] != lines[1] || ws.ExitStatus() != 0 {
		t.Fatalf("output %q (want the pgid equal to the pid), exit %d", out, ws.ExitStatus())
	}
}

func TestPendingReportsSetupError(t *testing.T) {
	requireNamespaces(t)
	p, err := Prestart(initArgv(), true)
	if err != nil {
		t.Fatal(err)
	}
	cmd := &exec.Cmd{Args: []string{"no-such-command-xyz"}, Env: []string{"PATH=/bin"}}
	proc, err := p.Run(cmd, Spec{Namespaces: true})
	var se *SetupError
	if !errors.As(err, &se) || !strings.Contains(se.Message, "no-such-command-xyz") {
		t.Fatalf("err = %v, want a SetupError naming the command", err)
	}
	if _, err := proc.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestPendingReleaseEndsInitStep(t *testing.T) {
	p, err := Prestart(initArgv(), false)
	if err != nil {
		t.Fatal(err)
	}
	p.Release()
	if p.cmd.ProcessState == nil || !p.cmd.ProcessState.Success() {
		t.Fatalf("released init step ended with %v", p.cmd.ProcessState)
	}
}
