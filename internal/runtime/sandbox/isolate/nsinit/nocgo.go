//go:build !cgo

package nsinit

// Without cgo this package is empty and the init step falls back to
// isolate.InitMain in Go, at the Go runtime's start-up cost per container.
