// Package runtime defines what the node agent needs from a container
// runtime: a per-pod sandbox step, starting a container attempt, signalling
// it, learning how it ended, and re-attaching to attempts that were started
// by an earlier agent process.
package runtime

import (
	"context"
	"syscall"
	"time"
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
	// ContainerStatusUnknown, never as a success.
	Adopt(stateDir string) (Container, error)
}

// StartError is returned by Start when the container's process could not be
// started (for example, its executable does not exist).
type StartError struct {
	Message string
}

func (e *StartError) Error() string { return e.Message }
