package isolate

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"

	// The C init step: started as InitSubcommand, the test binary runs it
	// before Go starts, as the shim does.
	_ "github.com/batchlet/batchlet/internal/runtime/sandbox/isolate/nsinit"
)

// goInitSubcommand starts the test binary as the Go init step (InitMain),
// the fallback of binaries without package nsinit.
const goInitSubcommand = "go-" + InitSubcommand

// useGoInit runs the tests against the Go init step instead of the C one:
// ISOLATE_INIT=go go test ./internal/runtime/sandbox/isolate/
var useGoInit = os.Getenv("ISOLATE_INIT") == "go"

func TestMain(m *testing.M) {
	// InitSubcommand only gets here in a build without cgo, where nsinit
	// is empty: the C init step never returns.
	if len(os.Args) > 1 && (os.Args[1] == goInitSubcommand || os.Args[1] == InitSubcommand) {
		os.Exit(InitMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func initArgv() []string {
	if useGoInit {
		return []string{os.Args[0], goInitSubcommand}
	}
	return []string{os.Args[0], InitSubcommand}
}

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
	return startInit(t, sp, script, stdin, initArgv())
}

// startInit is startWithStdin through the init step of argv.
func startInit(t testing.TB, sp Spec, script string, stdin io.Reader, argv []string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Stdin = stdin
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "MARK=x"}
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setup, err := Wrap(cmd, sp, argv)
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
