package isolate

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// openNetns opens a pod's network namespace file for the init step.
// It opens the descriptor itself: os.Open would try it in the poller
// first, five system calls more per container.
func openNetns(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	for errors.Is(err, unix.EINTR) {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("sandbox: opening the pod's network namespace: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil || st.Type != unix.NSFS_MAGIC {
		unix.Close(fd)
		return nil, fmt.Errorf("sandbox: %s is not a network namespace", path)
	}
	return os.NewFile(uintptr(fd), path), nil
}

func closeFile(f *os.File) {
	if f != nil {
		f.Close()
	}
}

// joinNetns moves the init step into the pod's network namespace. A
// namespace is joined per thread: the thread stays locked, so the exec
// that follows happens from it and the command starts inside.
func joinNetns(sp *initSpec) error {
	fd := sp.NetNSFD
	if fd <= 0 {
		f, err := openNetns(sp.NetNS)
		if err != nil {
			return err
		}
		defer f.Close()
		fd = int(f.Fd())
	} else {
		defer unix.Close(fd)
	}
	runtime.LockOSThread()
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("sandbox: joining the pod's network namespace: %w", err)
	}
	return nil
}
