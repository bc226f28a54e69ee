// Package memtrim lets a long-running process give back the pages of its
// own executable that it touched while starting.
//
// A Go binary that links an apiserver, etcd, client-go and kubectl is
// large, and starting it runs the package initialisation and set-up code
// of all of them once: that code stays mapped, and counted in the
// process's RSS, although the running server never executes it again.
//
// Unmapping those pages (MADV_DONTNEED) is not enough on kernels whose
// page cache holds files in large folios: the next fault anywhere in a
// folio maps all of it again, up to 2 MiB at a time. Reclaiming them
// (MADV_PAGEOUT) drops the folios; what the server does touch again is
// read back in small pieces.
package memtrim
