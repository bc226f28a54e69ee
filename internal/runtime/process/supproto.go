package process

// The runtime talks to its supervisor on a unix socket in the runtime's
// root directory, one connection per container (and per query), in the
// frames of frames.go. The runtime sends one supRequest; the supervisor
// answers with one frame and, for a container it runs, later sends
// supFrameExit once the container has ended and closes the connection.
// A connection that ends without supFrameExit means the supervisor is
// gone: the runtime then goes by the state directory's files.
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
)

// Supervisor request operations.
const (
	opStart   = "start"   // start the container of Dir from Spec
	opWatch   = "watch"   // report the container of Dir (after an agent restart)
	opInfo    = "info"    // report the supervisor itself
	opSession = "session" // exec or attach to the container of Dir
)

// supRequest is the runtime's one request on a connection.
type supRequest struct {
	Op   string `json:"op"`
	Dir  string `json:"dir,omitempty"`
	Spec *spec  `json:"spec,omitempty"`
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
