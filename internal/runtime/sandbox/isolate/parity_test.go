package isolate

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The C init step (package nsinit) must report what the Go one reports.
// These tests run each failure through both and compare the messages.

var (
	cInitArgv  = func() []string { return []string{os.Args[0], InitSubcommand} }
	goInitArgv = func() []string { return []string{os.Args[0], goInitSubcommand} }
)

// wrappedSetupError runs cmd wrapped with sp through the init step
// initArgv and returns the setup error's message.
func wrappedSetupError(t *testing.T, argv []string, cmd *exec.Cmd, sp Spec) string {
	t.Helper()
	setup, err := Wrap(cmd, sp, argv)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		setup.Abort()
		t.Fatal(err)
	}
	err = setup.Wait()
	_ = cmd.Wait()
	var se *SetupError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a SetupError", err)
	}
	if code := cmd.ProcessState.ExitCode(); code != 128 {
		t.Errorf("init step exited with %d after a setup error, want 128", code)
	}
	return se.Message
}

func forkedSetupError(t *testing.T, argv []string, cmd *exec.Cmd, sp Spec) string {
	t.Helper()
	f, err := StartForkServer(argv)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		f.Close()
		_ = f.cmd.Wait()
	}()
	proc, err := f.Run(cmd, sp)
	if proc == nil {
		t.Fatalf("no process: %v", err)
	}
	if _, werr := proc.Wait(); werr != nil {
		t.Fatal(werr)
	}
	var se *SetupError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a SetupError", err)
	}
	return se.Message
}

func TestInitStepsReportTheSameErrors(t *testing.T) {
	requireNamespaces(t)
	notExec := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(notExec, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	odd := "/nonexistent-\"quoted\"\tsource-\u00e9-\x01"
	cases := []struct {
		name string
		cmd  func() *exec.Cmd
		sp   func(t *testing.T) Spec
		want string
	}{
		{"missing source", trueCmd, func(t *testing.T) Spec {
			return Spec{Namespaces: true, ScratchDir: scratch(t), Mounts: []Mount{{Source: "/nonexistent-volume-source", Target: "/tmp"}}}
		}, `sandbox: mounting "/nonexistent-volume-source" at "/tmp": no such file or directory`},
		{"odd source name", trueCmd, func(t *testing.T) Spec {
			return Spec{Namespaces: true, ScratchDir: scratch(t), Mounts: []Mount{{Source: odd, Target: "/tmp"}}}
		}, `sandbox: mounting "/nonexistent-\"quoted\"\tsource-é-\x01" at "/tmp": no such file or directory`},
		{"missing target without scratch", trueCmd, func(t *testing.T) Spec {
			return Spec{Namespaces: true, Mounts: []Mount{{Source: "/tmp", Target: "/nonexistent-target/x"}}}
		}, `sandbox: mount target "/nonexistent-target/x" does not exist and no scratch directory was given`},
		{"not found in PATH", func() *exec.Cmd {
			return &exec.Cmd{Path: "", Args: []string{"no-such-command-xyz"}, Env: []string{"PATH=/bin:/usr/bin"}}
		}, nsSpec, `failed to start container process: exec: "no-such-command-xyz": executable file not found in $PATH`},
		{"empty PATH searches nothing", func() *exec.Cmd {
			return &exec.Cmd{Args: []string{"true"}, Env: []string{"PATH="}, Dir: "/bin"}
		}, nsSpec, `failed to start container process: exec: "true": executable file not found in $PATH`},
		{"not executable", func() *exec.Cmd {
			return &exec.Cmd{Path: notExec, Args: []string{notExec}, Env: []string{}}
		}, nsSpec, `failed to start container process: exec: "` + notExec + `": permission denied`},
		{"missing working directory", func() *exec.Cmd {
			c := trueCmd()
			c.Dir = "/nonexistent-workdir"
			return c
		}, nsSpec, `failed to start container process: chdir to cwd ("/nonexistent-workdir") set in config.json failed: no such file or directory`},
		{"scratch directory not makeable", trueCmd, func(t *testing.T) Spec {
			return Spec{Namespaces: true, ScratchDir: notExec + "/scratch", Mounts: []Mount{{Source: "/tmp", Target: "/nonexistent-target/x"}}}
		}, `sandbox: creating scratch directory ` + notExec + `/scratch: mkdir ` + notExec + `: not a directory`},
		{"cgroup not joinable", trueCmd, func(t *testing.T) Spec {
			return Spec{CgroupProcs: []string{"/nonexistent-cgroup/cgroup.procs"}}
		}, `sandbox: joining cgroup /nonexistent-cgroup: open /nonexistent-cgroup/cgroup.procs: no such file or directory`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sp := tc.sp(t)
			msgs := map[string]string{
				"C wrapped":  wrappedSetupError(t, cInitArgv(), tc.cmd(), sp),
				"Go wrapped": wrappedSetupError(t, goInitArgv(), tc.cmd(), tc.sp(t)),
			}
			// The fork server passes stdio only.
			msgs["C forked"] = forkedSetupError(t, cInitArgv(), withStdio(tc.cmd()), tc.sp(t))
			for how, msg := range msgs {
				if msg != tc.want {
					t.Errorf("%s: %q, want %q", how, msg, tc.want)
				}
			}
		})
	}
}

func trueCmd() *exec.Cmd {
	c := exec.Command("/bin/true")
	c.Env = []string{}
	return c
}

func nsSpec(*testing.T) Spec { return Spec{Namespaces: true} }

func withStdio(c *exec.Cmd) *exec.Cmd {
	c.Stdin, c.Stdout, c.Stderr = nil, nil, nil
	return c
}

// rawInit hands payload to a wrapped init step as its spec and returns
// the reported message and how the step ended.
func rawInit(t *testing.T, argv []string, payload []byte) (string, syscall.WaitStatus) {
	t.Helper()
	specR, specW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer errR.Close()
	cmd := exec.Command(argv[0], append(argv[1:], "3", "4")...)
	cmd.Env = []string{}
	cmd.ExtraFiles = []*os.File{specR, errW}
	err = cmd.Start()
	specR.Close()
	errW.Close()
	if err != nil {
		specW.Close()
		t.Fatal(err)
	}
	_, _ = specW.Write(payload)
	specW.Close()
	msg, _ := io.ReadAll(errR)
	_ = cmd.Wait()
	return statusMessage(msg), cmd.ProcessState.Sys().(syscall.WaitStatus)
}

// TestMalformedSpecIsReported feeds both init steps every truncation and
// some corruptions of a valid spec: each must end with the same clear
// error, never a crash or a started command.
func TestMalformedSpecIsReported(t *testing.T) {
	valid, err := encodeSpec(initSpec{
		Spec: Spec{Namespaces: true, Hostname: "h", ScratchDir: "/s",
			Mounts: []Mount{{Source: "/a", Target: "/b", ReadOnly: true}}, CgroupProcs: []string{"/c"},
			LimitCapabilities: true, Capabilities: 0xa80425fb},
		Path: "/bin/true", Args: []string{"true", "x"}, Env: []string{"A=1"}, Dir: "/",
	})
	if err != nil {
		t.Fatal(err)
	}
	var bad [][]byte
	for n := 0; n < len(valid); n++ {
		bad = append(bad, valid[:n])
	}
	corrupt := func(old, new string) []byte {
		return []byte(strings.Replace(string(valid), old, new, 1))
	}
	bad = append(bad,
		append(append([]byte{}, valid...), 'x'),
		corrupt(wireMagic, "batchlet-init-0"),
		corrupt("\x005\x000\x00h\x00", "\x009\x000\x00h\x00"),
		corrupt("\x002\x00true\x00", "\x00999999\x00true\x00"),
		corrupt("\x002\x00true\x00", "\x00-1\x00true\x00"),
		corrupt("\x002\x00true\x00", "\x001234567890\x00true\x00"),
		corrupt("/b\x001\x00", "/b\x00yes\x00"),
		corrupt("\x00a80425fb\x00", "\x00A80425FB\x00"),
		corrupt("\x00a80425fb\x00", "\x00-80425fb\x00"),
		corrupt("\x00a80425fb\x00", "\x00111112222a80425fb\x00"),
		corrupt("\x00a80425fb\x00", "\x00\x00"),
		corrupt("\x005\x000\x00h\x00", "\x001\x000\x00h\x00"),
		[]byte("\x00\x00\x00"),
	)
	for i, payload := range bad {
		_, goErr := decodeSpec(payload)
		if goErr == nil {
			t.Fatalf("payload %d %q decoded", i, payload)
		}
		msg, ws := rawInit(t, cInitArgv(), payload)
		if !strings.HasPrefix(msg, "sandbox: decoding spec: ") || ws.Signaled() || ws.ExitStatus() != 128 {
			t.Errorf("C init step on %q: %q, %v", payload, msg, ws)
		}
		if msg != goErr.Error() {
			t.Errorf("C init step on %q: %q, Go decoder %q", payload, msg, goErr)
		}
		if i%9 == 0 || i >= len(valid) {
			// The Go init step is slower to start: a sample suffices.
			if goMsg, _ := rawInit(t, goInitArgv(), payload); goMsg != msg {
				t.Errorf("Go init step on %q: %q, C %q", payload, goMsg, msg)
			}
		}
	}
}

func TestInitStepRefusesBadArguments(t *testing.T) {
	for _, argv := range [][]string{cInitArgv(), goInitArgv()} {
		for _, args := range [][]string{{}, {"1", "2"}, {"x", "4"}, {"3"}} {
			cmd := exec.Command(argv[0], append(argv[1:], args...)...)
			cmd.Env = []string{}
			out, _ := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), InitSubcommand) {
				t.Errorf("%s %q: exit %d, output %q; want 2 and a usage message", argv[1], args, code, out)
			}
		}
	}
}
