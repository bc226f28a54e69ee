package isolate

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostTarget is a top-level path that must exist only inside sandboxes.
func hostTarget(t *testing.T) string {
	t.Helper()
	p := fmt.Sprintf("/batchlet-sandbox-test-%d", time.Now().UnixNano())
	t.Cleanup(func() {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s appeared on the host", p)
			_ = os.RemoveAll(p)
		}
	})
	return p
}

func scratch(t *testing.T) string {
	d := filepath.Join(t.TempDir(), "scratch")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestHostnamePIDAndPrivateInput(t *testing.T) {
	requireNamespaces(t)
	input := hostTarget(t)
	vol := t.TempDir()
	if err := os.WriteFile(filepath.Join(vol, "data.txt"), []byte("foo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sp := Spec{Namespaces: true, Hostname: "example-job-0", ScratchDir: scratch(t),
		Mounts: []Mount{{Source: vol, Target: input}}}
	script := fmt.Sprintf(`hostname; echo pid=$$; rev %[1]s/data.txt; echo out > %[1]s/result; ls /proc | grep -c '^[0-9]'; cat /etc/os-release >/dev/null && echo host-files-visible`, input)
	out, code := run(t, sp, script)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{"example-job-0", "pid=1", "oof"}
	for i, w := range want {
		if i >= len(lines) || lines[i] != w {
			t.Fatalf("output %q, want lines %q first", out, want)
		}
	}
	if !strings.Contains(out, "host-files-visible") {
		t.Errorf("host root not visible inside: %q", out)
	}
	if got, err := os.ReadFile(filepath.Join(vol, "result")); err != nil || string(got) != "out\n" {
		t.Errorf("write through mount: %q, %v", got, err)
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), sp.ScratchDir) || strings.Contains(string(mi), vol) {
		t.Error("sandbox mounts visible on the host")
	}
	if h, _ := os.Hostname(); h == "example-job-0" {
		t.Error("host hostname changed")
	}
}

func TestTwoSandboxesHaveDifferentInputs(t *testing.T) {
	requireNamespaces(t)
	input := hostTarget(t)
	a, b := t.TempDir(), t.TempDir()
	hold, release, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	// A waits on its stdin until B has run.
	cmdA, outA := startWithStdin(t, Spec{Namespaces: true, ScratchDir: scratch(t), Mounts: []Mount{{Source: a, Target: input}}},
		fmt.Sprintf("echo a > %s/who; read x; cat %s/who", input, input), hold)
	// While A still runs, B sees its own directory.
	out, code := run(t, Spec{Namespaces: true, ScratchDir: scratch(t), Mounts: []Mount{{Source: b, Target: input}}},
		fmt.Sprintf("ls %s | wc -l; echo b > %s/who; cat %s/who", input, input, input))
	if code != 0 || strings.Fields(out)[0] != "0" || !strings.HasSuffix(strings.TrimSpace(out), "b") {
		t.Errorf("second sandbox: exit %d, %q", code, out)
	}
	release.Close()
	_ = cmdA.Wait()
	if outA.String() != "a\n" {
		t.Errorf("first sandbox saw %q", outA.String())
	}
	for dir, w := range map[string]string{a: "a\n", b: "b\n"} {
		if got, _ := os.ReadFile(filepath.Join(dir, "who")); string(got) != w {
			t.Errorf("%s/who = %q, want %q", dir, got, w)
		}
	}
}

func TestReadOnlyAndSubPathAndFiles(t *testing.T) {
	requireNamespaces(t)
	ro, vol := t.TempDir(), t.TempDir()
	sub := filepath.Join(vol, "nested", "dir")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "f"), []byte("in-sub"), 0o644); err != nil {
		t.Fatal(err)
	}
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("10.0.0.9\tpod-a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	roT, subT := hostTarget(t), hostTarget(t)
	sp := Spec{Namespaces: true, ScratchDir: scratch(t), Mounts: []Mount{
		{Source: ro, Target: roT, ReadOnly: true},
		{Source: sub, Target: subT},
		{Source: hosts, Target: "/etc/hosts"},
	}}
	out, code := run(t, sp, fmt.Sprintf(`touch %s/x 2>/dev/null && echo writable || echo refused; cat %s/f; echo; cat /etc/hosts`, roT, subT))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	want := "refused\nin-sub\n10.0.0.9\tpod-a\n"
	if out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	if data, _ := os.ReadFile("/etc/hosts"); strings.Contains(string(data), "pod-a") {
		t.Error("host /etc/hosts changed")
	}
}

func TestMissingTargetBelowExistingDirectory(t *testing.T) {
	requireNamespaces(t)
	parent := t.TempDir()
	if err := os.WriteFile(filepath.Join(parent, "existing"), []byte("e"), 0o644); err != nil {
		t.Fatal(err)
	}
	vol := t.TempDir()
	target := filepath.Join(parent, "new", "deeper")
	sp := Spec{Namespaces: true, ScratchDir: scratch(t), Mounts: []Mount{{Source: vol, Target: target}}}
	out, code := run(t, sp, fmt.Sprintf("cat %s/existing; touch %s/made && echo ok", parent, target))
	if code != 0 || out != "eok\n" {
		t.Fatalf("exit %d, output %q", code, out)
	}
	if _, err := os.Stat(filepath.Join(parent, "new")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("target parent created on the host: %v", err)
	}
	if _, err := os.Stat(filepath.Join(vol, "made")); err != nil {
		t.Errorf("write did not reach the volume: %v", err)
	}
}

// TestScratchDirMadeWhenNeeded: the scratch directory need not exist; the
// init step makes it (parents too) only for a missing target, and it
// stays empty on the host.
func TestScratchDirMadeWhenNeeded(t *testing.T) {
	requireNamespaces(t)
	base := t.TempDir()
	unused := filepath.Join(base, "unused", "c-0")
	out, code := run(t, Spec{Namespaces: true, ScratchDir: unused, Mounts: []Mount{{Source: t.TempDir(), Target: "/tmp"}}}, "echo ok")
	if code != 0 || out != "ok\n" {
		t.Fatalf("exit %d, output %q", code, out)
	}
	if _, err := os.Stat(filepath.Join(base, "unused")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("scratch directory made without a missing target: %v", err)
	}
	needed := filepath.Join(base, "scratch", "c-0")
	target := hostTarget(t)
	out, code = run(t, Spec{Namespaces: true, ScratchDir: needed, Mounts: []Mount{{Source: t.TempDir(), Target: target}}}, "test -d "+target+" && echo ok")
	if code != 0 || out != "ok\n" {
		t.Fatalf("exit %d, output %q", code, out)
	}
	entries, err := os.ReadDir(needed)
	if err != nil || len(entries) != 0 {
		t.Fatalf("scratch directory on the host: %v entries, err %v; want it made and empty", entries, err)
	}
}

func TestExitStatusAndPID1Signals(t *testing.T) {
	requireNamespaces(t)
	for _, ns := range []bool{false, true} {
		t.Run(fmt.Sprintf("namespaces=%v", ns), func(t *testing.T) {
			if _, code := run(t, Spec{Namespaces: ns}, "exit 7"); code != 7 {
				t.Errorf("exit code %d, want 7", code)
			}
			cmd, _ := start(t, Spec{Namespaces: ns}, "exec sleep 1000")
			if err := syscall.Kill(cmd.Process.Pid, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if ns {
				// PID 1 without a handler ignores SIGTERM; only SIGKILL ends it.
				if err := syscall.Kill(cmd.Process.Pid, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
			_ = cmd.Wait()
			ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
			want := syscall.SIGTERM
			if ns {
				want = syscall.SIGKILL
			}
			if !ws.Signaled() || ws.Signal() != want {
				t.Errorf("ended with %v, want signal %v", ws, want)
			}
		})
	}
}

func TestSetupFailureIsReported(t *testing.T) {
	requireNamespaces(t)
	cmd := exec.Command("/bin/true")
	sp := Spec{Namespaces: true, ScratchDir: scratch(t), Mounts: []Mount{{Source: "/nonexistent-volume-source", Target: "/tmp"}}}
	setup, err := Wrap(cmd, sp, initArgv())
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err = setup.Wait()
	_ = cmd.Wait()
	var se *SetupError
	if !errors.As(err, &se) || !strings.Contains(se.Message, "/nonexistent-volume-source") {
		t.Fatalf("err = %v, want a SetupError naming the source", err)
	}
	cmd = exec.Command("/no/such/binary")
	cmd.Env = []string{}
	setup, err = Wrap(cmd, Spec{Namespaces: true}, initArgv())
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err = setup.Wait()
	_ = cmd.Wait()
	if !errors.As(err, &se) {
		t.Fatalf("missing binary: err = %v", err)
	}
}

func TestWrapRefusesIsolationWithoutNamespaces(t *testing.T) {
	_, err := Wrap(exec.Command("/bin/true"), Spec{Hostname: "x"}, initArgv())
	var ue *UnsupportedError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want UnsupportedError", err)
	}
}
