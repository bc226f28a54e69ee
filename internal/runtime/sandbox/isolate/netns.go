package isolate

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// openNetns opens a pod's network namespace file for the init step.
func openNetns(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sandbox: opening the pod's network namespace: %w", err)
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil || st.Type != unix.NSFS_MAGIC {
		f.Close()
		return nil, fmt.Errorf("sandbox: %s is not a network namespace", path)
	}
	return f, nil
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
