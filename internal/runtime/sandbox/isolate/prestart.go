package isolate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// pendingArg makes the init step wait for its container on a socket
// instead of reading a spec pipe: it is started (and its namespaces made)
// before the container is known, so that what remains when it arrives is
// the mounts and one exec.
const pendingArg = "--pending"

// maxSpecSize bounds the spec a pending init step accepts in one message.
const maxSpecSize = 4 << 20

// Pending is an init step started ahead of its container.
type Pending struct {
	namespaces bool
	cmd        *exec.Cmd
	sock       *os.File
}

// Prestart starts the init step (initArgv: this binary and InitSubcommand)
// in fresh mount, UTS, PID and IPC namespaces when namespaces is set, and
// leaves it waiting for Pending.Run. Releasing the Pending (or the death
// of the caller) makes it exit.
func Prestart(initArgv []string, namespaces bool) (*Pending, error) {
	if len(initArgv) == 0 {
		return nil, errors.New("sandbox: no init command")
	}
	if namespaces && os.Geteuid() != 0 {
		return nil, &UnsupportedError{Field: "spec", Message: "mount, UTS and PID namespaces require running as root"}
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sandbox: creating init socket: %w", err)
	}
	own, child := os.NewFile(uintptr(fds[0]), "init"), os.NewFile(uintptr(fds[1]), "init")
	defer child.Close()
	cmd := exec.Command(initArgv[0], append(append([]string{}, initArgv[1:]...), pendingArg, "3")...)
	cmd.Env = []string{}
	cmd.ExtraFiles = []*os.File{child}
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if namespaces {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC
	}
	if err := cmd.Start(); err != nil {
		own.Close()
		return nil, fmt.Errorf("sandbox: starting init step: %w", err)
	}
	return &Pending{namespaces: namespaces, cmd: cmd, sock: own}, nil
}

// Namespaces reports whether the init step runs in fresh namespaces.
func (p *Pending) Namespaces() bool { return p.namespaces }

// Release makes an unused init step exit and reaps it.
func (p *Pending) Release() {
	p.sock.Close()
	_ = p.cmd.Wait()
}

// Run hands the container to the init step: cmd's Path (may be empty when
// the command is to be looked up inside the sandbox), Args, Env, Dir and
// stdio (*os.File or nil), and sp. With SysProcAttr.Setctty the command
// gets stdin as its controlling terminal in a new session; otherwise it
// leads a new process group. The returned process is the init step, and
// the container's once Run returns nil; on an error (a *SetupError when
// the sandbox could not be set up) it exits by itself. Either way the
// caller reaps it.
func (p *Pending) Run(cmd *exec.Cmd, sp Spec) (*os.Process, error) {
	defer p.sock.Close()
	if err := validate(sp); err != nil {
		return p.cmd.Process, err
	}
	if sp.Namespaces != p.namespaces {
		return p.cmd.Process, errors.New("sandbox: the pending init step was started for different namespaces")
	}
	if len(cmd.ExtraFiles) > 0 {
		return p.cmd.Process, errors.New("sandbox: a pending init step passes on stdio only")
	}
	stdio, closeAll, err := stdioFiles(cmd)
	if err != nil {
		return p.cmd.Process, err
	}
	defer closeAll()
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	is := initSpec{Spec: sp, Path: cmd.Path, Args: cmd.Args, Env: env, Dir: cmd.Dir,
		Terminal: cmd.SysProcAttr != nil && cmd.SysProcAttr.Setctty}
	payload, err := encodeSpec(is)
	if err != nil {
		return p.cmd.Process, err
	}
	if len(payload) > maxSpecSize {
		return p.cmd.Process, fmt.Errorf("sandbox: spec of %d bytes exceeds %d", len(payload), maxSpecSize)
	}
	if sp.NetNS != "" {
		netns, err := openNetns(sp.NetNS)
		if err != nil {
			return p.cmd.Process, err
		}
		defer netns.Close()
		stdio = append(stdio, int(netns.Fd()))
	}
	rights := unix.UnixRights(stdio...)
	if err := unix.Sendmsg(int(p.sock.Fd()), payload, rights, nil, 0); err != nil {
		return p.cmd.Process, &SetupError{Message: fmt.Sprintf("sandbox init ended before taking its container: %v", err)}
	}
	// The init step's socket closes on exec; a message is an error.
	buf := make([]byte, 64<<10)
	n, rerr := p.sock.Read(buf)
	switch {
	case n > 0:
		return p.cmd.Process, &SetupError{Message: statusMessage(buf[:n])}
	case rerr != nil && !errors.Is(rerr, io.EOF):
		return p.cmd.Process, fmt.Errorf("sandbox: reading init status: %w", rerr)
	}
	return p.cmd.Process, nil
}

// stdioFiles are the descriptors the container gets as 0, 1 and 2.
func stdioFiles(cmd *exec.Cmd) ([]int, func(), error) {
	var opened []*os.File
	closeAll := func() {
		for _, f := range opened {
			f.Close()
		}
	}
	fds := make([]int, 0, 3)
	for i, s := range []any{cmd.Stdin, cmd.Stdout, cmd.Stderr} {
		var f *os.File
		switch v := s.(type) {
		case nil:
			flag := os.O_RDONLY
			if i > 0 {
				flag = os.O_WRONLY
			}
			null, err := os.OpenFile(os.DevNull, flag, 0)
			if err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("sandbox: opening %s: %w", os.DevNull, err)
			}
			opened = append(opened, null)
			f = null
		case *os.File:
			f = v
		default:
			closeAll()
			return nil, nil, fmt.Errorf("sandbox: stdio %d of a pending init step must be a file, not %T", i, s)
		}
		fds = append(fds, int(f.Fd()))
	}
	return fds, closeAll, nil
}

// awaitContainer is the pending init step's side: it receives the spec
// and the container's stdio, installs the stdio as 0, 1 and 2 and returns
// the spec. ok is false when the socket closed without a container.
func awaitContainer(sock int) (sp initSpec, ok bool, err error) {
	buf := make([]byte, maxSpecSize)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return sp, false, fmt.Errorf("sandbox: receiving spec: %w", err)
	}
	if n == 0 && oobn == 0 {
		return sp, false, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return sp, false, fmt.Errorf("sandbox: parsing stdio: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		got, err := unix.ParseUnixRights(&m)
		if err == nil {
			fds = append(fds, got...)
		}
	}
	if sp, err = decodeSpec(buf[:n]); err != nil {
		return sp, false, err
	}
	// After the stdio comes the pod's network namespace, when it has one.
	want := 3
	if sp.NetNS != "" {
		want = 4
	}
	if len(fds) != want {
		return sp, false, fmt.Errorf("sandbox: received %d descriptors, want %d", len(fds), want)
	}
	if want == 4 {
		sp.NetNSFD, fds = fds[3], fds[:3]
	}
	for i, fd := range fds {
		if fd == i {
			// Already in place; only the close-on-exec flag must go.
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
				return sp, false, fmt.Errorf("sandbox: installing stdio: %w", err)
			}
			continue
		}
		if err := unix.Dup3(fd, i, 0); err != nil {
			return sp, false, fmt.Errorf("sandbox: installing stdio: %w", err)
		}
	}
	for i, fd := range fds {
		if fd > 2 && fd != sock && !contains(fds[:i], fd) {
			unix.Close(fd)
		}
	}
	return sp, true, nil
}

func contains(fds []int, fd int) bool {
	for _, x := range fds {
		if x == fd {
			return true
		}
	}
	return false
}

// pendingMain is InitMain for a pending init step.
func pendingMain(fdArg string) int {
	sock, err := strconv.Atoi(fdArg)
	if err != nil || sock < 3 {
		fmt.Fprintln(os.Stderr, InitSubcommand+": bad descriptor argument")
		return 2
	}
	syscall.CloseOnExec(sock)
	sp, ok, err := awaitContainer(sock)
	if !ok {
		if err != nil {
			report(sock, err)
		}
		return 0
	}
	if err := setSession(sp.Terminal); err != nil {
		report(sock, err)
		return 128
	}
	report(sock, execContainer(sp))
	return 128
}

// setSession makes the process lead a new process group, or a new session
// with stdin as its controlling terminal.
func setSession(terminal bool) error {
	if !terminal {
		if err := unix.Setpgid(0, 0); err != nil {
			return fmt.Errorf("sandbox: setting process group: %w", err)
		}
		return nil
	}
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("sandbox: creating session: %w", err)
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("sandbox: setting controlling terminal: %w", err)
	}
	return nil
}

func report(sock int, err error) {
	if _, werr := unix.Write(sock, []byte(err.Error())); werr != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}
