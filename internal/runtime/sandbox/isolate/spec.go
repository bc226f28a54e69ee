// Package isolate isolates one container of a pod on the host: a private
// mount namespace over the host filesystem with the pod's volumes bound at
// their mountPaths, the pod's hostname in a UTS namespace, and a PID
// namespace in which the container's process is PID 1.
//
// Go cannot run code between fork and exec, so the isolation is set up by
// a re-executed init step: Wrap rewrites an exec.Cmd to run InitMain in
// fresh namespaces; InitMain joins the cgroups, builds the mounts, then
// execs the container's command in place, so the command itself becomes
// PID 1 and its exit status reaches the parent unchanged. In production
// the init step is package nsinit's C code, linked into the shim, which
// does the same before the Go runtime starts (the runtime's start-up
// would be most of the init step's cost); InitMain is its Go twin, the
// fallback of binaries that do not import nsinit. The C init step can
// also run as a fork server (ForkServer), started once, that clones
// itself per container: a container then costs no exec but its own.
//
// It depends on nothing beyond the standard library and x/sys, because it
// runs in the shim and in every container's init step, whose start-up cost each
// container pays; package sandbox re-exports it next to the parts that
// work on Kubernetes objects.
package isolate

// InitSubcommand is the hidden first argument with which the binary is
// re-executed as a container's init; main must hand the remaining
// arguments to InitMain.
const InitSubcommand = "sandbox-init"

// Mount is one bind mount into the container's view of the filesystem.
type Mount struct {
	// Source is a host path (a directory or a file).
	Source string `json:"source"`
	// Target is an absolute path inside the container. A target missing on
	// the host is created inside the container's mount namespace only.
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// Spec describes the isolation of one container.
type Spec struct {
	// Namespaces runs the container in new mount, UTS, PID and IPC
	// namespaces (root only). Without it the container shares the host's
	// and Hostname and Mounts must be empty.
	Namespaces bool `json:"namespaces,omitempty"`
	// Hostname is the UTS hostname inside the container.
	Hostname string `json:"hostname,omitempty"`
	// Mounts are made in order of their target depth, parents first.
	Mounts []Mount `json:"mounts,omitempty"`
	// ScratchDir is a host directory private to this container (under the
	// agent's data dir), empty or not yet made. When a target must be
	// created, the init step makes it and rebuilds the container's root on
	// a tmpfs mounted there inside the private namespace; nothing else
	// appears on the host.
	ScratchDir string `json:"scratchDir,omitempty"`
	// NetNS is a network namespace file (a bind mount of one) the
	// container joins, shared by the containers of its pod; empty keeps
	// the host network. Needs Namespaces.
	NetNS string `json:"netns,omitempty"`
	// CgroupProcs are cgroup.procs files the container joins before its
	// command runs (see cgroups.Group.ProcsFiles).
	CgroupProcs []string `json:"cgroupProcs,omitempty"`
	// LimitCapabilities confines the container's command to Capabilities,
	// a set with bit n for capability number n: its bounding, effective
	// and permitted sets become that set (as far as the supervisor holds
	// it), its inheritable and ambient sets empty. They are applied last,
	// once the set-up that needs privileges is done. Without it the
	// command keeps every capability of the supervisor.
	//
	// A supervisor that predates these fields ignores them (encoding/json
	// skips unknown fields) and runs the container unconfined, as before.
	// Supervisors are keyed by their shim binary, so that only happens
	// when the agent is upgraded without its shim: a replaced shim gets a
	// supervisor of its own for new containers.
	LimitCapabilities bool   `json:"limitCapabilities,omitempty"`
	Capabilities      uint64 `json:"capabilities,omitempty"`
}

// initSpec is what the init step receives over its spec pipe or socket,
// in the wire format of wire.go.
type initSpec struct {
	Spec
	Path string
	Args []string
	Env  []string
	Dir  string
	// Terminal makes stdin the controlling terminal (fork server only).
	Terminal bool
	// NetNSFD is the init step's descriptor of NetNS, opened by the
	// parent: the init step's mount namespace may predate the file.
	NetNSFD int
}
