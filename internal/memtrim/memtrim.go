// Package memtrim lets a long-running process give back the pages of its
// own executable that it touched while starting.
//
// A Go binary that links an apiserver, etcd, client-go and kubectl is
// large, and starting it runs the package initialisation and set-up code
// of all of them once: that code stays mapped, and counted in the
// process's RSS, although the running server never executes it again.
// Unmapping the executable's read-only mappings (MADV_DONTNEED) releases
// those pages from the process; the page cache keeps them, so what the
// server does touch again comes back with a minor fault, without I/O.
package memtrim
