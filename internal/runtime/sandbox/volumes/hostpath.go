package volumes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	corev1 "k8s.io/api/core/v1"
)

// checkHostPath applies the hostPath type check (creating the path for
// the OrCreate types) and returns the path to mount.
func checkHostPath(hp *corev1.HostPathVolumeSource) (string, error) {
	path := hp.Path
	typ := corev1.HostPathUnset
	if hp.Type != nil {
		typ = *hp.Type
	}
	info, err := os.Stat(path)
	exists := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("hostPath type check failed: %w", err)
	}
	switch typ {
	case corev1.HostPathUnset:
		return path, nil
	case corev1.HostPathDirectoryOrCreate:
		if !exists {
			if err := os.MkdirAll(path, 0o755); err != nil {
				return "", fmt.Errorf("hostPath type check failed: creating %s: %w", path, err)
			}
			return path, nil
		}
		if !info.IsDir() {
			return "", fmt.Errorf("hostPath type check failed: %s is not a directory", path)
		}
	case corev1.HostPathFileOrCreate:
		if !exists {
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return "", fmt.Errorf("hostPath type check failed: creating %s: %w", path, err)
			}
			_ = f.Close()
			return path, nil
		}
		if info.IsDir() {
			return "", fmt.Errorf("hostPath type check failed: %s is not a file", path)
		}
	default:
		want, ok := hostPathKinds[typ]
		if !ok {
			return "", fmt.Errorf("hostPath type check failed: unknown type %q", typ)
		}
		if !exists {
			return "", fmt.Errorf("hostPath type check failed: %s %s", path, want.missing)
		}
		if !want.match(info.Mode()) {
			return "", fmt.Errorf("hostPath type check failed: %s %s", path, want.mismatch)
		}
	}
	return path, nil
}

type hostPathKind struct {
	match             func(fs.FileMode) bool
	missing, mismatch string
}

var hostPathKinds = map[corev1.HostPathType]hostPathKind{
	corev1.HostPathDirectory: {func(m fs.FileMode) bool { return m.IsDir() },
		"does not exist", "is not a directory"},
	corev1.HostPathFile: {func(m fs.FileMode) bool { return m.IsRegular() },
		"does not exist", "is not a file"},
	corev1.HostPathSocket: {func(m fs.FileMode) bool { return m&fs.ModeSocket != 0 },
		"does not exist", "is not a socket file"},
	corev1.HostPathCharDev: {func(m fs.FileMode) bool { return m&fs.ModeCharDevice != 0 },
		"does not exist", "is not a character device"},
	corev1.HostPathBlockDev: {func(m fs.FileMode) bool { return m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0 },
		"does not exist", "is not a block device"},
}
