package process

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// The supervisor serves exec and attach sessions on a unix socket in the
// attempt's state directory. A session is a sequence of frames in both
// directions: one kind byte, a big-endian uint32 length, the payload. The
// client's first frame is a sessionRequest.
const (
	frameRequest byte = iota
	frameStdin
	frameStdout
	frameStderr
	frameStdinClose
	frameResize
	frameExit
)

// socketFile is the session socket in a container's state directory that
// earlier supervisors made for each container; the current one serves
// sessions on its own socket (opSession).
const socketFile = "shim.sock"

// maxFrame bounds one frame's payload.
const maxFrame = 1 << 20

// errFrameTooLarge refuses a frame whose payload exceeds maxFrame.
var errFrameTooLarge = errors.New("frame exceeds the size limit")

// sessionRequest opens a session.
type sessionRequest struct {
	// Op is "exec" or "attach".
	Op     string   `json:"op"`
	Argv   []string `json:"argv,omitempty"`
	TTY    bool     `json:"tty,omitempty"`
	Stdin  bool     `json:"stdin,omitempty"`
	Stdout bool     `json:"stdout,omitempty"`
	Stderr bool     `json:"stderr,omitempty"`
}

// sessionExit ends a session.
type sessionExit struct {
	Code  int    `json:"code"`
	Error string `json:"error,omitempty"`
}

// resizeEvent is a frameResize payload.
type resizeEvent struct {
	Width  uint16 `json:"width"`
	Height uint16 `json:"height"`
}

// frameWriter serialises frames from several goroutines.
type frameWriter struct {
	mu sync.Mutex
	w  io.Writer
	// buf holds a frame while it is written: header and payload go in one
	// write, one system call rather than two.
	buf []byte
}

// frameHeader is the size of a frame's kind and length.
const frameHeader = 5

// oneWriteFrame bounds the payloads copied behind their header into buf.
const oneWriteFrame = 64 << 10

func (f *frameWriter) write(kind byte, p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(p) <= oneWriteFrame {
		return f.flushLocked(append(f.headerLocked(kind, len(p)), p...))
	}
	for first := true; first || len(p) > 0; first = false {
		n := min(len(p), maxFrame)
		var hdr [frameHeader]byte
		hdr[0] = kind
		binary.BigEndian.PutUint32(hdr[1:], uint32(n))
		if _, err := f.w.Write(hdr[:]); err != nil {
			return err
		}
		if _, err := f.w.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// writeTagged writes a frame of a multiplexed connection: the payload is
// tag, then body.
// An oversized frame is refused with errFrameTooLarge before anything is
// written.
func (f *frameWriter) writeTagged(kind byte, tag uint64, body []byte) error {
	if tagSize+len(body) > maxFrame {
		return fmt.Errorf("%w: %d bytes", errFrameTooLarge, tagSize+len(body))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	buf := binary.BigEndian.AppendUint64(f.headerLocked(kind, tagSize+len(body)), tag)
	return f.flushLocked(append(buf, body...))
}

// headerLocked starts a frame of n bytes in buf.
func (f *frameWriter) headerLocked(kind byte, n int) []byte {
	return binary.BigEndian.AppendUint32(append(f.buf[:0], kind), uint32(n))
}

// flushLocked writes a frame made in buf, which it keeps for the next
// unless an outsized frame made it large.
func (f *frameWriter) flushLocked(frame []byte) error {
	_, err := f.w.Write(frame)
	f.buf = nil
	if cap(frame) <= frameHeader+oneWriteFrame {
		f.buf = frame[:0]
	}
	return err
}

func (f *frameWriter) writeJSON(kind byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding frame: %w", err)
	}
	return f.write(kind, data)
}

// streamWriter turns writes into frames of one kind.
type streamWriter struct {
	fw   *frameWriter
	kind byte
}

func (s streamWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := s.fw.write(s.kind, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var hdr [frameHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("frame of %d bytes exceeds the limit", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	return hdr[0], p, nil
}

// socketAddress names the socket at path by an address short enough for
// a unix socket, going through /proc/self/fd when path is long; release
// must be called once the address has been used.
func socketAddress(path string) (addr string, release func(), err error) {
	if len(path) < 100 {
		return path, func() {}, nil
	}
	dir, name := filepath.Split(path)
	d, err := os.Open(dir)
	if err != nil {
		return "", nil, fmt.Errorf("opening socket directory: %w", err)
	}
	return fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), name), func() { d.Close() }, nil
}

// listenSocket listens on a unix socket at path, replacing what is there;
// closing the listener unlinks it.
func listenSocket(path string) (*sockListener, error) {
	addr, release, err := socketAddress(path)
	if err != nil {
		return nil, err
	}
	defer release()
	_ = os.Remove(path)
	ln, err := listenUnix(addr)
	if err != nil {
		return nil, err
	}
	ln.path = path
	return ln, nil
}

// dialSocket connects to the unix socket at path.
func dialSocket(path string) (io.ReadWriteCloser, error) {
	addr, release, err := socketAddress(path)
	if err != nil {
		return nil, err
	}
	defer release()
	return dialUnix(addr)
}

// errNoShim means nothing serves the container's sessions (it has ended,
// or predates sessions).
var errNoShim = errors.New("container is not running")

// dialSession connects to the session service of c: its supervisor's
// socket, or the container's own socket of an earlier supervisor.
func (c *container) dialSession() (io.ReadWriteCloser, error) {
	if c.st.Supervisor == "" {
		return dialShim(c.dir)
	}
	conn, err := dialSocket(c.st.Supervisor)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, errNoShim
		}
		return nil, fmt.Errorf("connecting to the container supervisor: %w", err)
	}
	fw := &frameWriter{w: conn}
	if err := fw.writeJSON(supFrameRequest, supRequest{Op: opSession, Dir: c.dir}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("asking the container supervisor for a session: %w", err)
	}
	kind, p, err := readFrame(conn)
	switch {
	case err != nil:
		conn.Close()
		return nil, fmt.Errorf("asking the container supervisor for a session: %w", err)
	case kind == supFrameSession:
		return conn, nil
	case kind == supFrameUnknown:
		conn.Close()
		return nil, errNoShim
	}
	conn.Close()
	if kind == supFrameError {
		// An earlier supervisor: it serves each container on a socket of its own.
		return dialShim(c.dir)
	}
	return nil, fmt.Errorf("unexpected frame %d from the container supervisor: %q", kind, p)
}

func dialShim(dir string) (io.ReadWriteCloser, error) {
	conn, err := dialSocket(filepath.Join(dir, socketFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, errNoShim
		}
		return nil, fmt.Errorf("connecting to container shim: %w", err)
	}
	return conn, nil
}
