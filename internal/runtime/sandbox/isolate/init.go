package isolate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// InitMain is the init step started by a wrapped command: args are the
// spec and status descriptors Wrap passed. It only returns on failure,
// after reporting the error to the parent.
//
// It is the fallback for binaries without package nsinit; nsinit's C
// init step, which the shim uses, must keep doing exactly what this does.
func InitMain(args []string) int {
	if len(args) == 2 && args[0] == forkServerArg {
		return forkServerUnsupported()
	}
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: "+InitSubcommand+" SPEC_FD STATUS_FD")
		return 2
	}
	specFD, err1 := strconv.Atoi(args[0])
	statusFD, err2 := strconv.Atoi(args[1])
	if err1 != nil || err2 != nil || specFD < 3 || statusFD < 3 {
		fmt.Fprintln(os.Stderr, InitSubcommand+": bad descriptor arguments")
		return 2
	}
	// The status pipe closes by itself when the command is exec'd: an
	// empty read tells the parent that the container runs.
	syscall.CloseOnExec(statusFD)
	syscall.CloseOnExec(specFD)
	status := os.NewFile(uintptr(statusFD), "status")
	err := runInit(os.NewFile(uintptr(specFD), "spec"))
	msg := err.Error()
	if _, werr := io.WriteString(status, msg); werr != nil {
		fmt.Fprintln(os.Stderr, msg)
	}
	status.Close()
	return 128
}

// runInit sets up the sandbox and execs the container's command; it only
// returns with an error.
func runInit(specFile *os.File) error {
	data, err := io.ReadAll(specFile)
	specFile.Close()
	if err != nil {
		return fmt.Errorf("sandbox: reading spec: %w", err)
	}
	sp, err := decodeSpec(data)
	if err != nil {
		return err
	}
	return execContainer(sp)
}

// execContainer joins the cgroups, builds the sandbox and execs the
// container's command; it only returns with an error.
func execContainer(sp initSpec) error {
	if len(sp.Args) == 0 {
		return errors.New("sandbox: no command")
	}
	for _, procs := range sp.CgroupProcs {
		// "0" is the writing process itself, whatever PID namespace it is in.
		if err := os.WriteFile(procs, []byte("0"), 0); err != nil {
			return fmt.Errorf("sandbox: joining cgroup %s: %w", filepath.Dir(procs), err)
		}
	}
	if sp.NetNS != "" {
		if err := joinNetns(&sp); err != nil {
			return err
		}
	}
	if sp.Namespaces {
		if err := setupNamespaces(&sp.Spec); err != nil {
			return err
		}
	}
	if sp.Dir != "" {
		if err := os.Chdir(sp.Dir); err != nil {
			return fmt.Errorf("failed to start container process: chdir to cwd (%q) set in config.json failed: %w", sp.Dir, errors.Unwrap(err))
		}
	}
	path, err := resolveCommand(sp.Path, sp.Args[0], sp.Env)
	if err != nil {
		return err
	}
	if sp.LimitCapabilities {
		if err := limitCapabilities(sp.Capabilities); err != nil {
			return err
		}
	}
	err = unix.Exec(path, sp.Args, sp.Env)
	return fmt.Errorf("failed to start container process: exec: %q: %w", path, err)
}

func setupNamespaces(sp *Spec) error {
	// Nothing mounted from here on may propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("sandbox: making / private: %w", err)
	}
	if sp.Hostname != "" {
		if err := unix.Sethostname([]byte(sp.Hostname)); err != nil {
			return fmt.Errorf("sandbox: setting hostname: %w", err)
		}
	}
	// A proc for the new PID namespace, so ps and /proc/self see the
	// container's processes; buildView reaches mount sources through it.
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("sandbox: mounting /proc: %w", err)
	}
	return buildView(sp)
}

// resolveCommand finds the executable inside the sandbox's view: the
// path resolved by the caller if it exists there, else argv[0] looked up
// in the container's PATH.
func resolveCommand(path, argv0 string, env []string) (string, error) {
	if path != "" && isExecutable(path) {
		return path, nil
	}
	if strings.Contains(argv0, "/") {
		return argv0, nil
	}
	dirs := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			dirs = v
		}
	}
	for _, d := range filepath.SplitList(dirs) {
		if d == "" {
			d = "."
		}
		if p := filepath.Join(d, argv0); isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("failed to start container process: exec: %q: executable file not found in $PATH", argv0)
}

func isExecutable(p string) bool {
	info, err := os.Stat(p)
	return err == nil && !info.IsDir() && info.Mode()&0o111 != 0
}
