package process

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/creack/pty"
)

// output is one of the container's output streams as the supervisor reads it.
type output struct {
	stream string
	kind   byte
	r      *os.File
}

// containerStdio is the container's stdin, stdout and stderr: pipes, or a
// terminal when the container asks for one.
type containerStdio struct {
	outputs []output
	// childEnds are the container's ends, closed in the supervisor once it runs.
	childEnds []*os.File
	ownEnds   []*os.File
}

// connectStdio wires cmd's stdio and hands the container's open stdin, if
// any, to the sessions that attach to it.
func connectStdio(cmd *exec.Cmd, sp spec, sess *sessions) (*containerStdio, error) {
	s := &containerStdio{}
	if sp.TTY {
		master, tty, err := pty.Open()
		if err != nil {
			return nil, fmt.Errorf("allocating a terminal: %w", err)
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		// The terminal becomes the container's controlling terminal, which
		// makes its process a session (and group) leader.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
		s.childEnds = append(s.childEnds, tty)
		s.ownEnds = append(s.ownEnds, master)
		s.outputs = []output{{"stdout", frameStdout, master}}
		if sp.Stdin {
			sess.stdin, sess.master = master, master
		}
		return s, nil
	}
	if sp.Stdin {
		r, w, err := inputPipe()
		if err != nil {
			return nil, fmt.Errorf("creating stdin pipe: %w", err)
		}
		cmd.Stdin = r
		s.childEnds = append(s.childEnds, r)
		s.ownEnds = append(s.ownEnds, w)
		sess.stdin, sess.stdinCloser = w, w
	}
	for _, o := range []struct {
		stream string
		kind   byte
		dst    *io.Writer
	}{{"stdout", frameStdout, &cmd.Stdout}, {"stderr", frameStderr, &cmd.Stderr}} {
		r, w, err := pipe()
		if err != nil {
			s.closeAll()
			return nil, fmt.Errorf("creating %s pipe: %w", o.stream, err)
		}
		*o.dst = w
		s.childEnds = append(s.childEnds, w)
		s.ownEnds = append(s.ownEnds, r)
		s.outputs = append(s.outputs, output{o.stream, o.kind, r})
	}
	return s, nil
}

func (s *containerStdio) closeChildEnds() {
	for _, f := range s.childEnds {
		_ = f.Close()
	}
}

func (s *containerStdio) closeAll() {
	s.closeChildEnds()
	for _, f := range s.ownEnds {
		_ = f.Close()
	}
}

// drain bounds how long output is still read.
func (s *containerStdio) drain(deadline time.Time) {
	for _, o := range s.outputs {
		_ = o.r.SetReadDeadline(deadline)
	}
}

// stdioReader reads r, copying what it reads to tee. A terminal's master
// reports EIO once the container's side is closed: that is its end of file.
func stdioReader(r io.Reader, tee io.Writer) io.Reader {
	return io.TeeReader(eioAsEOF{r}, tee)
}

type eioAsEOF struct{ r io.Reader }

func (e eioAsEOF) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if errors.Is(err, syscall.EIO) {
		err = io.EOF
	}
	return n, err
}
