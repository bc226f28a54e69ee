package volumes

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/batchlet/batchlet/internal/runtime/sandbox"
)

// setUpEmptyDir makes an emptyDir: a directory shared by all containers
// of the pod; medium Memory is a tmpfs of at most sizeLimit.
func setUpEmptyDir(dir, field string, ed *corev1.EmptyDirVolumeSource, opts Options) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("creating emptyDir: %w", err)
	}
	// Containers may run as other users; an emptyDir is world-writable as
	// kubelet makes it.
	if err := os.Chmod(dir, 0o777); err != nil {
		return fmt.Errorf("setting emptyDir mode: %w", err)
	}
	switch ed.Medium {
	case corev1.StorageMediumDefault:
		return nil
	case corev1.StorageMediumMemory:
	default:
		return &sandbox.UnsupportedError{Field: field + ".emptyDir.medium", Message: fmt.Sprintf("medium %q is not supported", ed.Medium)}
	}
	if !opts.privileged() {
		return &sandbox.UnsupportedError{Field: field + ".emptyDir.medium", Message: "a Memory emptyDir needs a tmpfs mount, which requires running as root"}
	}
	mounted, err := isMountPoint(dir)
	if err != nil {
		return err
	}
	if mounted {
		return nil
	}
	data := "mode=1777"
	if ed.SizeLimit != nil && ed.SizeLimit.Sign() > 0 {
		data += ",size=" + strconv.FormatInt(ed.SizeLimit.Value(), 10)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, data); err != nil {
		return fmt.Errorf("mounting tmpfs at %s: %w", dir, err)
	}
	return nil
}

// isMountPoint reports whether path is the root of a mount: it sits on a
// different device than its parent.
func isMountPoint(path string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return false, fmt.Errorf("checking %s: %w", path, err)
	}
	if err := unix.Lstat(path+"/..", &parent); err != nil {
		return false, fmt.Errorf("checking parent of %s: %w", path, err)
	}
	return st.Dev != parent.Dev, nil
}

func unmountIfMounted(path string) error {
	mounted, err := isMountPoint(path)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	if !mounted {
		return nil
	}
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmounting %s: %w", path, err)
	}
	return nil
}
