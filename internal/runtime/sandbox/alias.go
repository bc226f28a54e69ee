// Package sandbox isolates one container of a pod on the host: a private
// mount namespace over the host filesystem with the pod's volumes bound at
// their mountPaths, the pod's hostname in a UTS namespace, and a PID
// namespace in which the container's process is PID 1.
//
// The mechanism lives in isolate, which the shim binary links without any
// Kubernetes package; this package adds what is computed from pods (mounts
// from volumeMounts, /etc files, hostnames) and re-exports the rest.
//
// Sub-packages: volumes materialises a pod's volumes, cgroups enforces its
// resource limits.
package sandbox

import (
	"os/exec"

	"github.com/batchlet/batchlet/internal/runtime/sandbox/isolate"
)

// InitSubcommand is the hidden first argument with which the binary is
// re-executed as a container's init; main must hand the remaining
// arguments to InitMain.
const InitSubcommand = isolate.InitSubcommand

// ReasonUnsupported is the reason (for the pod status and the event) of a
// pod that asks for something this node cannot provide.
const ReasonUnsupported = isolate.ReasonUnsupported

// Re-exported types of package isolate.
type (
	Spec             = isolate.Spec
	Mount            = isolate.Mount
	Setup            = isolate.Setup
	UnsupportedError = isolate.UnsupportedError
	SetupError       = isolate.SetupError
)

// InitMain is the init step; see isolate.InitMain.
func InitMain(args []string) int { return isolate.InitMain(args) }

// Wrap routes cmd through the init step; see isolate.Wrap.
func Wrap(cmd *exec.Cmd, sp Spec, initArgv []string) (*Setup, error) {
	return isolate.Wrap(cmd, sp, initArgv)
}

// EnterArgv runs argv inside a sandboxed container; see isolate.EnterArgv.
func EnterArgv(pid int, dir string, argv []string) []string {
	return isolate.EnterArgv(pid, dir, argv)
}
