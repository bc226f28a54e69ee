// Package fsutil has file system calls the per-pod paths make often
// enough that their system call count matters.
package fsutil

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// MkdirAll makes path and its missing parents as os.MkdirAll does, in one
// mkdir when the parent exists (os.MkdirAll looks at path and its parent
// first): on ext4 each system call that walks a path costs.
func MkdirAll(path string, perm os.FileMode) error {
	err := unix.Mkdir(path, uint32(perm.Perm()))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST):
		var st unix.Stat_t
		if unix.Stat(path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return nil
		}
	case errors.Is(err, unix.ENOENT):
		if parent := filepath.Dir(path); parent != path && MkdirAll(parent, perm) == nil {
			if err := unix.Mkdir(path, uint32(perm.Perm())); err == nil {
				return nil
			}
		}
	}
	// Whatever is odd, os.MkdirAll handles and words it as usual.
	return os.MkdirAll(path, perm)
}
