package isolate

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// The test binary doubles as the init step, as the batchlet binary does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == InitSubcommand {
		os.Exit(InitMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func initArgv() []string { return []string{os.Args[0], InitSubcommand} }

func requireNamespaces(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("namespaces need root")
	}
	if _, err := os.Stat("/proc/self/ns/pid"); err != nil {
		t.Skip("kernel without PID namespaces")
	}
}

// start runs script under sh in a sandbox and returns the started command
// and its output buffer.
func start(t testing.TB, sp Spec, script string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	return startWithStdin(t, sp, script, nil)
}

func startWithStdin(t testing.TB, sp Spec, script string, stdin io.Reader) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Stdin = stdin
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "MARK=x"}
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setup, err := Wrap(cmd, sp, initArgv())
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		setup.Abort()
		t.Fatal(err)
	}
	if err := setup.Wait(); err != nil {
		_ = cmd.Wait()
		t.Fatalf("setup: %v (output %q)", err, out.String())
	}
	return cmd, &out
}

// run runs script to its end and returns its output and exit code.
func run(t testing.TB, sp Spec, script string) (string, int) {
	t.Helper()
	cmd, out := start(t, sp, script)
	err := cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return out.String(), cmd.ProcessState.ExitCode()
}
