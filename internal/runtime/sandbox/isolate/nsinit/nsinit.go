// Package nsinit is the container init step of package isolate written in
// C, run before the Go runtime starts: a binary that imports it (for its
// side effect) and is re-executed as `BINARY sandbox-init ...` sets the
// sandbox up and execs the container without ever starting Go, which
// saves each container the Go runtime's start-up.
//
// It reads the same arguments and spec wire format (see wire.go in
// package isolate) and reports the same errors as isolate.InitMain, which
// remains the fallback of binaries that do not import this package. This
// is the path used in production: the batchlet-shim binary imports it.
//
// The work happens in a C constructor (nsinit.c) that only acts when the
// first argument is the init subcommand; any other start of the binary
// goes on to Go's main untouched.
package nsinit

// #cgo CFLAGS: -O2 -Wall -Wextra -Wno-unused-parameter -std=gnu11
// #include "nsinit.h"
import "C"
