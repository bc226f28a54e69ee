package process

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// The supervisor opens, writes and closes several small files per
// container, and system calls are dear (microseconds each on a virtual
// machine). os.OpenFile tries every new descriptor in the poller, which
// costs five system calls more per regular file than the open itself, so
// these helpers use the descriptors directly.

// openFile opens path with O_CLOEXEC added, retrying on EINTR; errors are
// *os.PathError as os.OpenFile's.
func openFile(path string, flags int, perm uint32) (int, error) {
	for {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC, perm)
		if err == nil {
			return fd, nil
		}
		if !errors.Is(err, unix.EINTR) {
			return -1, &os.PathError{Op: "open", Path: path, Err: err}
		}
	}
}

// writeAll writes all of p to fd.
func writeAll(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := unix.Write(fd, p)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// writeFile replaces dir/name with data: written to a temporary file,
// then renamed over it, so that readers see the whole file or none.
func writeFile(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, "."+name+".tmp")
	fd, err := openFile(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	err = writeAll(fd, data)
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, &os.PathError{Op: "write", Path: tmp, Err: err})
	}
	if err := unix.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("writing %s: %w", name, &os.PathError{Op: "rename", Path: tmp, Err: err})
	}
	return nil
}

// readFile returns the contents of path, as os.ReadFile does.
func readFile(path string) ([]byte, error) {
	fd, err := openFile(path, unix.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	// The state files are small: one read and the one that sees their
	// end, most of the time.
	buf := make([]byte, 0, 2048)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// createExclusive creates path, failing with an error satisfying
// os.ErrExist when it exists.
func createExclusive(path string, perm uint32) error {
	fd, err := openFile(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, perm)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// openAppend opens (creating) a file to append to, without the poller:
// writes to a regular file block anyway.
func openAppend(path string, perm uint32) (*os.File, error) {
	fd, err := openFile(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT, perm)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// pipe returns a pipe whose read end is the supervisor's, in the poller
// (output is read in goroutines, with deadlines), and whose write end is
// the container's, blocking as a program expects its output to be.
// os.Pipe would put both ends in the poller only for exec to take the
// container's end out again.
func pipe() (r, w *os.File, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, fmt.Errorf("creating pipe: %w", err)
	}
	if err := unix.SetNonblock(p[0], true); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, nil, fmt.Errorf("creating pipe: %w", err)
	}
	return os.NewFile(uintptr(p[0]), "|0"), os.NewFile(uintptr(p[1]), "|1"), nil
}

// inputPipe is pipe the other way round: the container reads, the
// supervisor writes.
func inputPipe() (r, w *os.File, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, fmt.Errorf("creating pipe: %w", err)
	}
	if err := unix.SetNonblock(p[1], true); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, nil, fmt.Errorf("creating pipe: %w", err)
	}
	return os.NewFile(uintptr(p[0]), "|0"), os.NewFile(uintptr(p[1]), "|1"), nil
}

// devNull is one descriptor of /dev/null, open for reading and writing,
// that every container without stdin shares instead of exec opening and
// closing one per container. It is never closed.
var devNull = sync.OnceValues(func() (*os.File, error) {
	fd, err := openFile(os.DevNull, unix.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), os.DevNull), nil
})
