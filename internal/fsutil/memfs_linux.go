package fsutil

import "golang.org/x/sys/unix"

// InMemory reports whether path is on a file system kept in memory
// (tmpfs or ramfs), where creating and renaming files costs a fraction
// of what it costs on disk, and nothing survives a reboot.
func InMemory(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && (st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC)
}
