//go:build !linux

package memtrim

// DropExecutablePages does nothing where there is no madvise to ask.
func DropExecutablePages() (int, error) { return 0, nil }
