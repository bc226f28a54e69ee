// Package runtime defines what the node agent needs from a container
// runtime: a per-pod sandbox step, starting a container attempt, signalling
// it, learning how it ended, and re-attaching to attempts that were started
// by an earlier agent process.
package runtime

import (
	"context"
	"errors"
	"io"
	"syscall"
	"time"

	"github.com/batchlet/batchlet/internal/runtime/sandbox/isolate"
)

// SandboxConfig describes the pod-level environment containers share.
type SandboxConfig struct {
	UID       string
	Namespace string
	Name      string
	Hostname  string
	// Dir is a runtime-private directory for the sandbox's state.
	Dir string
}

// ContainerConfig is one attempt of one container, fully resolved: the
// argv is already expanded and the environment complete.
type ContainerConfig struct {
	// ID is unique per attempt; it becomes the containerID in pod status.
	ID         string
	Argv       []string
	Env        []string
	WorkingDir string
	// StateDir is a runtime-private directory for this attempt. It survives
	// agent restarts and is what Adopt is given.
	StateDir string
	// LogPath receives stdout and stderr in the CRI log format.
	LogPath string
	// Stdin keeps the container's stdin open for attach; StdinOnce closes
	// it when the first attach session ends; TTY gives the container a
	// terminal (its output is then one stream).
	Stdin     bool
	StdinOnce bool
	TTY       bool
	// Sandbox isolates the container (namespaces, mounts, cgroups); nil
	// runs it as a plain host process.
	Sandbox *isolate.Spec
}

// Exit describes how a container attempt ended.
type Exit struct {
	ExitCode   int32
	Signal     int32
	FinishedAt time.Time
	// Reason overrides the usual Completed/Error when the runtime knows
	// better (StartError, ContainerStatusUnknown).
	Reason  string
	Message string
}

// Container is a started (or adopted) attempt.
type Container interface {
	ID() string
	StartedAt() time.Time
	// Signal delivers sig to every process of the container.
	Signal(sig syscall.Signal) error
	// Done is closed once the container has ended and Exit is known.
	Done() <-chan struct{}
	Exit() Exit
}

// Runtime runs containers.
type Runtime interface {
	// PrepareSandbox sets up what the pod's containers share; it is called
	// before the first container of a pod starts and must be idempotent.
	PrepareSandbox(ctx context.Context, cfg SandboxConfig) error
	// RemoveSandbox releases what PrepareSandbox set up.
	RemoveSandbox(ctx context.Context, cfg SandboxConfig) error
	// Start starts one container attempt and returns once it runs.
	Start(ctx context.Context, cfg ContainerConfig) (Container, error)
	// Adopt re-attaches to an attempt started earlier from its StateDir.
	// The returned container may already be Done; an attempt whose
	// processes vanished without a recorded exit is reported truthfully as
	// ContainerStatusUnknown, never as a success. An attempt that never
	// started and never will (the agent stopped before the runtime took
	// it) is ErrNotStarted: its StateDir may be removed and the attempt
	// made anew.
	Adopt(stateDir string) (Container, error)
}

// ErrNotStarted is Adopt's answer for an attempt no process ever ran for.
var ErrNotStarted = errors.New("the container attempt was never started")

// StartError is returned by Start when the container's process could not be
// started (for example, its executable does not exist).
type StartError struct {
	Message string
}

func (e *StartError) Error() string { return e.Message }

// TerminalSize is a terminal's size in character cells.
type TerminalSize struct {
	Width  uint16
	Height uint16
}

// Streams are the client's side of an exec or attach session. A nil
// stream is not connected.
type Streams struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	TTY    bool
	// Resize delivers terminal size changes while TTY is set.
	Resize <-chan TerminalSize
}

// Interactive is implemented by containers that support exec and attach.
type Interactive interface {
	// Exec runs argv inside the container with its environment and
	// returns the command's exit code once it has ended.
	Exec(ctx context.Context, argv []string, s Streams) (int, error)
	// Attach connects s to the container's main process until ctx ends
	// or the container ends.
	Attach(ctx context.Context, s Streams) error
}
