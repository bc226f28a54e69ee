package isolate

import "fmt"

// ReasonUnsupported is the reason (for the pod status and the event) of a
// pod that asks for something this node cannot provide.
const ReasonUnsupported = "UnsupportedPodSpec"

// UnsupportedError says that a pod field cannot be honoured on this node,
// typically for want of a privilege (not root, no cgroup controller). The
// pod must fail with it rather than run with the field ignored.
type UnsupportedError struct {
	// Field is the pod field path, e.g. spec.volumes[0].emptyDir.medium.
	Field   string
	Message string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s: %s", e.Field, e.Message)
}

// Reason is the pod status reason for this error.
func (e *UnsupportedError) Reason() string { return ReasonUnsupported }

// SetupError is a container whose sandbox could not be set up before its
// command ran (a mount failed, the command was not found); the runtime
// reports it as a start error.
type SetupError struct {
	Message string
}

func (e *SetupError) Error() string { return e.Message }
