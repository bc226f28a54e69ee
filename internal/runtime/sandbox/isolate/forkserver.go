package isolate

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// forkServerArg makes the init step a fork server (package nsinit's C
// code only; the Go init step cannot fork itself): one process, started
// once, that makes each container by forking, so that a container costs
// a fork of a small process rather than an exec of the init binary.
const forkServerArg = "--fork-server"

// maxSpecSize bounds the spec the fork server accepts in one message.
const maxSpecSize = 4 << 20

// forkAnswerTimeout bounds the wait for the server's answer to a request.
// The server answers at once unless it still waits for an earlier child
// whose setup hangs (a mount of an unreachable network filesystem, say);
// past this the server is given up and killed, and the caller starts a
// new one. The child that hangs keeps its own request's answer.
var forkAnswerTimeout = 10 * time.Second

// ErrForkServerGone is returned by ForkServer.Run when the server has
// exited: no container was started, and a new server may be started.
var ErrForkServerGone = errors.New("sandbox: the fork server is gone")

// ForkServer is a running fork server. Its children are clones made with
// CLONE_PARENT, so they are children of the process that started the
// server, which must reap them (and the server) itself.
type ForkServer struct {
	cmd *exec.Cmd
	// mu serialises requests: each is a message and its answer.
	mu sync.Mutex
	// sock is in the runtime's poller: the wait for an answer (the child's
	// set-up, up to its exec) parks the caller instead of holding a thread
	// in a system call, which the Go scheduler would answer by handing
	// the thread's processor to another.
	sock *os.File
	gone bool
	// started counts the children made.
	started atomic.Int64
}

// forkServerEnv is the fork server's environment: none, but for tests.
var forkServerEnv []string

// StartForkServer starts the init step (initArgv: this binary and
// InitSubcommand) as a fork server and waits until it is ready. An init
// step that cannot serve forks (the Go one) makes it fail; callers then
// start an init step per container (Wrap).
func StartForkServer(initArgv []string) (*ForkServer, error) {
	if len(initArgv) == 0 {
		return nil, errors.New("sandbox: no init command")
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sandbox: creating fork server socket: %w", err)
	}
	// Our end is non-blocking, so that os.NewFile puts it in the poller;
	// the server's end stays blocking.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, fmt.Errorf("sandbox: creating fork server socket: %w", err)
	}
	own, child := os.NewFile(uintptr(fds[0]), "forkserver"), os.NewFile(uintptr(fds[1]), "forkserver")
	defer child.Close()
	cmd := exec.Command(initArgv[0], append(append([]string{}, initArgv[1:]...), forkServerArg, "3")...)
	cmd.Env = append([]string{}, forkServerEnv...)
	cmd.ExtraFiles = []*os.File{child}
	if err := cmd.Start(); err != nil {
		own.Close()
		return nil, fmt.Errorf("sandbox: starting fork server: %w", err)
	}
	child.Close()
	buf := make([]byte, 16)
	n, err := own.Read(buf)
	if err != nil || n != 1 || buf[0] != 'R' {
		own.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if err == nil || errors.Is(err, io.EOF) {
			err = errors.New("it exited without serving")
		}
		return nil, fmt.Errorf("sandbox: starting fork server: %w", err)
	}
	return &ForkServer{cmd: cmd, sock: own}, nil
}

// Pid is the server's process id.
func (f *ForkServer) Pid() int { return f.cmd.Process.Pid }

// Started is how many containers' processes the server has made.
func (f *ForkServer) Started() int64 { return f.started.Load() }

// Process is the server's process, for its parent to reap.
func (f *ForkServer) Process() *os.Process { return f.cmd.Process }

// Close makes the server exit; containers it made run on. The caller
// reaps the server (its parent's wait for Pid).
func (f *ForkServer) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gone = true
	f.sock.Close()
}

// Run starts the container described by cmd and sp as a child of the
// caller: cmd's Path (may be empty when the command is to be looked up
// inside the sandbox), Args, Env, Dir and stdio
// (*os.File or nil); SysProcAttr.Setctty makes stdin its controlling
// terminal in a new session, otherwise it leads a new process group.
//
// It returns once the container's command runs, or its sandbox failed to
// set up (a *SetupError; the process then exits by itself). The process is
// returned whenever one was made, error or not, and the caller reaps it.
// ErrForkServerGone (wrapped) means nothing was started.
func (f *ForkServer) Run(cmd *exec.Cmd, sp Spec) (*os.Process, error) {
	if err := validate(sp); err != nil {
		return nil, err
	}
	if len(cmd.ExtraFiles) > 0 {
		return nil, errors.New("sandbox: a fork server passes on stdio only")
	}
	stdio, closeAll, err := stdioFiles(cmd)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	payload, err := encodeSpec(initSpec{Spec: sp, Path: cmd.Path, Args: cmd.Args, Env: env, Dir: cmd.Dir,
		Terminal: cmd.SysProcAttr != nil && cmd.SysProcAttr.Setctty})
	if err != nil {
		return nil, err
	}
	if len(payload) > maxSpecSize {
		return nil, fmt.Errorf("sandbox: spec of %d bytes exceeds %d", len(payload), maxSpecSize)
	}
	statusR, statusW, err := statusPipe()
	if err != nil {
		return nil, err
	}
	defer statusR.Close()
	fds := append([]int{int(statusW.Fd())}, stdio...)
	if sp.NetNS != "" {
		netns, err := openNetns(sp.NetNS)
		if err != nil {
			statusW.Close()
			return nil, err
		}
		defer netns.Close()
		fds = append(fds, int(netns.Fd()))
	}
	pid, err := f.request(payload, fds)
	statusW.Close()
	if err != nil {
		return nil, err
	}
	// Found right away: the child cannot have been reaped yet, unless it
	// already failed, which its status below reports either way.
	proc, err := os.FindProcess(pid)
	if err != nil {
		return nil, fmt.Errorf("sandbox: finding the container's process %d: %w", pid, err)
	}
	// The pipe closes at the container's exec; a message is an error.
	msg, rerr := io.ReadAll(statusR)
	switch {
	case len(msg) > 0:
		return proc, &SetupError{Message: statusMessage(msg)}
	case rerr != nil:
		return proc, fmt.Errorf("sandbox: reading init status: %w", rerr)
	}
	return proc, nil
}

// request sends one container to the server and returns its pid.
func (f *ForkServer) request(payload []byte, fds []int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone {
		return 0, ErrForkServerGone
	}
	raw, err := f.sock.SyscallConn()
	if err != nil {
		f.gone = true
		return 0, fmt.Errorf("%w: %v", ErrForkServerGone, err)
	}
	var opErr error
	err = raw.Write(func(fd uintptr) bool {
		opErr = unix.Sendmsg(int(fd), payload, unix.UnixRights(fds...), nil, 0)
		return !errors.Is(opErr, unix.EAGAIN)
	})
	if err = cmp.Or(err, opErr); err != nil {
		f.gone = true
		return 0, fmt.Errorf("%w: sending a container: %v", ErrForkServerGone, err)
	}
	if err := f.sock.SetReadDeadline(time.Now().Add(forkAnswerTimeout)); err != nil {
		f.gone = true
		return 0, fmt.Errorf("%w: setting the answer's deadline: %v", ErrForkServerGone, err)
	}
	buf := make([]byte, 1024)
	var n int
	err = raw.Read(func(fd uintptr) bool {
		n, _, _, _, opErr = unix.Recvmsg(int(fd), buf, nil, 0)
		return !errors.Is(opErr, unix.EAGAIN)
	})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		f.gone = true
		_ = f.cmd.Process.Kill()
		return 0, fmt.Errorf("%w: waiting for its answer: no answer within %s", ErrForkServerGone, forkAnswerTimeout)
	}
	if err = cmp.Or(err, opErr); err != nil || n == 0 {
		f.gone = true
		if err == nil {
			err = io.EOF
		}
		return 0, fmt.Errorf("%w: reading its answer: %v", ErrForkServerGone, err)
	}
	answer := string(buf[1:n])
	switch buf[0] {
	case 'P':
		pid, err := strconv.Atoi(answer)
		if err != nil || pid <= 0 {
			return 0, fmt.Errorf("sandbox: fork server answered %q", string(buf[:n]))
		}
		f.started.Add(1)
		return pid, nil
	case 'E':
		return 0, &SetupError{Message: answer}
	}
	return 0, fmt.Errorf("sandbox: fork server answered %q", string(buf[:n]))
}

// statusPipe is the pipe on which a forked container's init step
// reports: the read end is in the poller, the write end (sent to the
// server) is not. os.Pipe would put both in the poller and Fd take the
// write end out again, five system calls more per container.
func statusPipe() (r, w *os.File, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, fmt.Errorf("sandbox: creating status pipe: %w", err)
	}
	if err := unix.SetNonblock(p[0], true); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, nil, fmt.Errorf("sandbox: creating status pipe: %w", err)
	}
	return os.NewFile(uintptr(p[0]), "|0"), os.NewFile(uintptr(p[1]), "|1"), nil
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
			return nil, nil, fmt.Errorf("sandbox: stdio %d of a forked container must be a file, not %T", i, s)
		}
		fds = append(fds, int(f.Fd()))
	}
	return fds, closeAll, nil
}

// forkServerUnsupported is the Go init step's answer to forkServerArg.
func forkServerUnsupported() int {
	fmt.Fprintln(os.Stderr, InitSubcommand+": "+forkServerArg+" needs the C init step (package nsinit)")
	return 2
}
