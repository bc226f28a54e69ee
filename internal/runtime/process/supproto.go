package process

import "encoding/json"

// The runtime talks to its supervisor on a unix socket in the runtime's
// root directory, in the frames of frames.go. The runtime sends one
// supRequest; the supervisor answers with one frame and, for a container
// it runs, later sends supFrameExit once the container has ended and
// closes the connection. A connection that ends without supFrameExit
// means the supervisor is gone: the runtime then goes by the state
// directory's files.
//
// A connection whose request is opMux carries, once the supervisor has
// answered supFrameMux, any number of start and watch requests instead:
// a connection per container would cost both sides a connect, an accept,
// a goroutine each and a dozen system calls. Every frame's payload then
// begins with a tag of tagSize bytes (big-endian) that the runtime picks
// per request; the answer and the exit carry the request's tag. The
// supervisor takes each request it reads in full, unless it is exiting,
// and then stays until the request is answered; a request it does not
// take it never reads, and the connection ends without an answer, as a
// connection of its own would. Supervisors that predate opMux refuse it
// with supFrameError, and runtimes then use a connection per container.
const (
	supFrameRequest byte = iota + 1
	// supFrameState carries the container's state: it runs (or failed
	// to start, with StartError set).
	supFrameState
	// supFrameExit carries the container's exitRecord.
	supFrameExit
	// supFrameUnknown: the supervisor runs no container in that directory.
	supFrameUnknown
	// supFrameInfo carries a supInfo.
	supFrameInfo
	// supFrameError carries a message: the request was refused.
	supFrameError
	// supFrameSession: the connection now carries a session of the
	// container (sessions.go).
	supFrameSession
	// supFrameMux: the connection is now multiplexed.
	supFrameMux
)

// tagSize is the size of a multiplexed frame's tag.
const tagSize = 8

// Supervisor request operations.
const (
	opStart   = "start"   // start the container of Dir from Spec
	opWatch   = "watch"   // report the container of Dir (after an agent restart)
	opInfo    = "info"    // report the supervisor itself
	opSession = "session" // exec or attach to the container of Dir
	opMux     = "mux"     // carry tagged start and watch requests from now on
)

// supRequest is the runtime's one request on a connection, or one of
// many on a multiplexed one.
type supRequest struct {
	Op  string `json:"op"`
	Dir string `json:"dir,omitempty"`
	// Spec is the container's spec, as spec.json holds it.
	Spec json.RawMessage `json:"spec,omitempty"`
}

// supInfo describes a running supervisor.
type supInfo struct {
	PID        int `json:"pid"`
	Containers int `json:"containers"`
	// ForkServerPID is the fork server's process (0: none runs); Forked
	// counts the containers it made.
	ForkServerPID int   `json:"forkServerPID,omitempty"`
	Forked        int64 `json:"forked,omitempty"`
}
