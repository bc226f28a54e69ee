package main

// The shim is linked statically: its init step (package nsinit) runs for
// every container before anything else, and a dynamic loader would add
// its own start-up to each. The shim must therefore stay clear of the
// packages that need the C library's name services (net, os/user).

// #cgo LDFLAGS: -static
import "C"
