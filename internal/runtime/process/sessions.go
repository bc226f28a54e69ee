package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/creack/pty"

	"github.com/batchlet/batchlet/internal/runtime/sandbox/isolate"
)

// endOfTransmission is what a terminal sends for Ctrl-D: a reader of the
// terminal in canonical mode sees end of input.
const endOfTransmission = 0x04

// sessions serves exec and attach for one container, inside its
// supervisor.
type sessions struct {
	sp spec
	// reaper reports how exec'd commands end.
	reaper *reaper
	// pgid is the container's process group; non-TTY execs join it when
	// joinable (it is in the supervisor's session), so they end with it.
	pgid     int
	joinable bool
	// done is closed once the container has ended and its output has been
	// delivered.
	done chan struct{}
	out  fanout
	// attached counts attach sessions, so they can say goodbye before
	// the container's end is recorded; attaching counts them too, for
	// finish to see that there are none without waiting.
	attached  sync.WaitGroup
	attaching atomic.Int32

	mu sync.Mutex
	// stdin is the container's open stdin (a pipe, or the pty master of a
	// TTY container); nil when the container has none.
	stdin       io.Writer
	stdinCloser io.Closer
	master      *os.File
	stdinClosed bool
	// execGroups are process groups of execs outside the container's
	// group, killed when the container ends.
	execGroups map[int]bool
}

func newSessions(sp spec, r *reaper) *sessions {
	return &sessions{sp: sp, reaper: r, done: make(chan struct{}), execGroups: map[int]bool{}, out: fanout{subs: map[*frameWriter]sessionRequest{}}}
}

// finish ends every session once the container has ended.
func (s *sessions) finish() {
	close(s.done)
	s.mu.Lock()
	for g := range s.execGroups {
		_ = syscall.Kill(-g, syscall.SIGKILL)
	}
	s.mu.Unlock()
	// An attach that begins from here on finds done closed and leaves.
	if s.attaching.Load() == 0 {
		return
	}
	wait := make(chan struct{})
	go func() {
		s.attached.Wait()
		close(wait)
	}()
	select {
	case <-wait:
	case <-time.After(time.Second):
	}
}

func (s *sessions) handle(conn io.ReadWriteCloser) {
	defer conn.Close()
	kind, p, err := readFrame(conn)
	if err != nil || kind != frameRequest {
		return
	}
	fw := &frameWriter{w: conn}
	var req sessionRequest
	if err := json.Unmarshal(p, &req); err != nil {
		_ = fw.writeJSON(frameExit, sessionExit{Error: fmt.Sprintf("malformed session request: %v", err)})
		return
	}
	switch req.Op {
	case "exec":
		code, err := s.exec(conn, fw, req)
		ex := sessionExit{Code: code}
		if err != nil {
			ex.Error = err.Error()
		}
		_ = fw.writeJSON(frameExit, ex)
	case "attach":
		s.attach(conn, fw, req)
	default:
		_ = fw.writeJSON(frameExit, sessionExit{Error: fmt.Sprintf("unknown session type %q", req.Op)})
	}
}

// attach relays the container's output to the client and the client's
// input to the container until either side ends.
func (s *sessions) attach(conn io.ReadWriteCloser, fw *frameWriter, req sessionRequest) {
	s.attached.Add(1)
	s.attaching.Add(1)
	defer func() {
		s.attaching.Add(-1)
		s.attached.Done()
	}()
	select {
	case <-s.done:
		_ = fw.writeJSON(frameExit, sessionExit{})
		return
	default:
	}
	s.out.add(fw, req)
	defer s.out.remove(fw)
	input := make(chan struct{})
	go func() {
		defer close(input)
		s.relayInput(conn, req.Stdin, s.writeStdin, s.closeStdinOnce, s.resizeContainer)
	}()
	select {
	case <-s.done:
		s.out.remove(fw)
		_ = fw.writeJSON(frameExit, sessionExit{})
	case <-input:
	}
	// The first attach session to end takes a stdinOnce container's stdin
	// with it.
	if req.Stdin {
		s.closeStdinOnce()
	}
}

// relayInput reads client frames until the connection ends.
func (s *sessions) relayInput(conn io.ReadWriteCloser, stdin bool, write func([]byte), closeStdin func(), resize func(resizeEvent)) {
	for {
		kind, p, err := readFrame(conn)
		if err != nil {
			return
		}
		switch kind {
		case frameStdin:
			if stdin {
				write(p)
			}
		case frameStdinClose:
			if stdin {
				closeStdin()
			}
		case frameResize:
			var ev resizeEvent
			if json.Unmarshal(p, &ev) == nil {
				resize(ev)
			}
		}
	}
}

func (s *sessions) writeStdin(p []byte) {
	s.mu.Lock()
	w, closed := s.stdin, s.stdinClosed
	s.mu.Unlock()
	if w != nil && !closed {
		_, _ = w.Write(p)
	}
}

// closeStdinOnce closes the container's stdin when it asked for stdinOnce.
func (s *sessions) closeStdinOnce() {
	if !s.sp.StdinOnce {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stdin == nil || s.stdinClosed {
		return
	}
	s.stdinClosed = true
	if s.master != nil {
		// A terminal has no half-close: end the input the way a user would.
		_, _ = s.master.Write([]byte{endOfTransmission})
		return
	}
	if s.stdinCloser != nil {
		_ = s.stdinCloser.Close()
	}
}

func (s *sessions) resizeContainer(ev resizeEvent) {
	s.mu.Lock()
	m := s.master
	s.mu.Unlock()
	setSize(m, ev)
}

func setSize(f *os.File, ev resizeEvent) {
	if f != nil && ev.Width > 0 && ev.Height > 0 {
		_ = pty.Setsize(f, &pty.Winsize{Rows: ev.Height, Cols: ev.Width})
	}
}

// exec runs one command in the container's environment and returns its
// exit code.
func (s *sessions) exec(conn io.ReadWriteCloser, fw *frameWriter, req sessionRequest) (int, error) {
	if len(req.Argv) == 0 || req.Argv[0] == "" {
		return 0, errors.New("no command specified")
	}
	argv, dir := req.Argv, s.sp.WorkingDir
	if sb := s.sp.Sandbox; sb != nil && sb.LimitCapabilities {
		// Inside the namespaces: nsenter itself needs CAP_SYS_ADMIN.
		argv = isolate.CapabilitiesArgv(sb.Capabilities, argv)
	}
	if s.sp.Sandbox != nil && s.sp.Sandbox.Namespaces {
		// Join the container's namespaces; nsenter resolves the command
		// and working directory inside its view.
		argv, dir = isolate.EnterArgv(s.pgid, "", argv), ""
	}
	path, err := lookPath(argv[0], s.sp.Env, dir)
	if err != nil {
		return 0, fmt.Errorf("OCI runtime exec failed: exec failed: unable to start container process: %w: unknown", err)
	}
	env := s.sp.Env
	if env == nil {
		env = []string{}
	}
	cmd := &exec.Cmd{Path: path, Args: argv, Env: env, Dir: dir, WaitDelay: drainTimeout}
	var (
		input  io.Writer
		closer io.Closer
		master *os.File
		slave  *os.File
		copied = make(chan struct{})
	)
	if req.TTY {
		m, tty, err := pty.Open()
		if err != nil {
			return 0, fmt.Errorf("allocating a terminal: %w", err)
		}
		defer m.Close()
		defer tty.Close()
		master, slave, input = m, tty, m
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
		go func() {
			defer close(copied)
			_, _ = io.Copy(streamWriter{fw, frameStdout}, m)
		}()
	} else {
		close(copied)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if s.joinable {
			cmd.SysProcAttr.Pgid = s.pgid
		}
		if req.Stdin {
			w, err := cmd.StdinPipe()
			if err != nil {
				return 0, fmt.Errorf("creating stdin pipe: %w", err)
			}
			input, closer = w, w
		}
		if req.Stdout {
			cmd.Stdout = streamWriter{fw, frameStdout}
		}
		if req.Stderr {
			cmd.Stderr = streamWriter{fw, frameStderr}
		}
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("OCI runtime exec failed: exec failed: unable to start container process: %w: unknown", err)
	}
	if slave != nil {
		// Only the command keeps the terminal open, so that the master
		// reports the end of its output once the command has ended.
		_ = slave.Close()
	}
	pid := cmd.Process.Pid
	ended := s.reaper.watch(cmd.Process)
	ownGroup := req.TTY || !s.joinable
	if ownGroup {
		s.mu.Lock()
		s.execGroups[pid] = true
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			delete(s.execGroups, pid)
			s.mu.Unlock()
		}()
	}
	exited := make(chan struct{})
	go func() {
		s.relayInput(conn, true, func(p []byte) {
			if input != nil {
				_, _ = input.Write(p)
			}
		}, func() {
			switch {
			case master != nil:
				_, _ = master.Write([]byte{endOfTransmission})
			case closer != nil:
				_ = closer.Close()
			}
		}, func(ev resizeEvent) { setSize(master, ev) })
		// The client went away: its command goes too.
		select {
		case <-exited:
		default:
			if ownGroup {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			} else {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}()
	res := <-ended
	close(exited)
	// The reaper has the status; Wait only lets the output copies finish
	// (bounded by WaitDelay) and releases the command's pipes.
	_ = cmd.Wait()
	select {
	case <-copied:
	case <-time.After(drainTimeout):
	}
	return exitCode(res), nil
}

// exitCode is a shell's view of how a process ended: its status, or 128
// plus the signal that killed it.
func exitCode(res reapResult) int {
	switch {
	case !res.ok:
		return 1
	case res.status.Signaled():
		return 128 + int(res.status.Signal())
	}
	return res.status.ExitStatus()
}

// fanout copies the container's output to the attached clients.
type fanout struct {
	mu   sync.Mutex
	subs map[*frameWriter]sessionRequest
}

func (f *fanout) add(fw *frameWriter, req sessionRequest) {
	f.mu.Lock()
	f.subs[fw] = req
	f.mu.Unlock()
}

func (f *fanout) remove(fw *frameWriter) {
	f.mu.Lock()
	delete(f.subs, fw)
	f.mu.Unlock()
}

func (f *fanout) send(kind byte, p []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for fw, req := range f.subs {
		if (kind == frameStdout && !req.Stdout) || (kind == frameStderr && !req.Stderr) {
			continue
		}
		if err := fw.write(kind, p); err != nil {
			delete(f.subs, fw)
		}
	}
}

// fanoutStream is the writer side of an io.TeeReader on one output stream.
type fanoutStream struct {
	f    *fanout
	kind byte
}

func (w fanoutStream) Write(p []byte) (int, error) {
	w.f.send(w.kind, p)
	return len(p), nil
}
