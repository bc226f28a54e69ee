//go:build !linux

package memtrim

// DropExecutablePages does nothing where there is no madvise to ask.
func DropExecutablePages() (int, error) { return 0, nil }

// DropFilePages does nothing where there is no madvise to ask.
func DropFilePages(string) (int, error) { return 0, nil }
