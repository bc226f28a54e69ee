package process

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Session sockets are plain unix stream sockets driven through os.File
// rather than the net package: importing net links cgo into the shim binary,
// which then starts through the dynamic loader and costs several
// milliseconds more CPU at each start. Non-blocking descriptors wrapped
// in os.File still park in the runtime's poller, and closing the file
// wakes a blocked Accept or Read.

// sockListener accepts connections on a unix socket.
type sockListener struct {
	f *os.File
	// path is unlinked on Close, as a net.UnixListener does.
	path string
}

func listenUnix(addr string) (*sockListener, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("creating socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: addr}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding %s: %w", addr, err)
	}
	if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return &sockListener{f: os.NewFile(uintptr(fd), addr)}, nil
}

// Accept waits for the next connection; it fails once the listener is
// closed.
func (l *sockListener) Accept() (io.ReadWriteCloser, error) {
	rc, err := l.f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var nfd int
	var aerr error
	err = rc.Read(func(fd uintptr) bool {
		nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		return !errors.Is(aerr, unix.EAGAIN) && !errors.Is(aerr, unix.EINTR)
	})
	if err != nil {
		return nil, err
	}
	if aerr != nil {
		return nil, fmt.Errorf("accepting session: %w", aerr)
	}
	return os.NewFile(uintptr(nfd), "session"), nil
}

func (l *sockListener) Close() error {
	err := l.f.Close()
	if l.path != "" {
		_ = os.Remove(l.path)
	}
	return err
}

// dialUnix connects to addr. The connect itself blocks (a unix socket
// connect completes at once or fails); reads and writes then go through
// the poller.
func dialUnix(addr string) (io.ReadWriteCloser, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("creating socket: %w", err)
	}
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: addr})
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("setting socket non-blocking: %w", err)
	}
	return os.NewFile(uintptr(fd), addr), nil
}
