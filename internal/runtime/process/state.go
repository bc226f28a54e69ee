package process

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/batchlet/batchlet/internal/procstat"
	"github.com/batchlet/batchlet/internal/runtime"
	"github.com/batchlet/batchlet/internal/runtime/sandbox/isolate"
)

// Files in an attempt's state directory.
const (
	specFile  = "spec.json"
	stateFile = "state.json"
	exitFile  = "exit.json"
)

// spec is what the runtime hands the supervisor for one container.
type spec struct {
	ID         string   `json:"id"`
	Argv       []string `json:"argv"`
	Env        []string `json:"env"`
	WorkingDir string   `json:"workingDir"`
	LogPath    string   `json:"logPath"`
	Stdin      bool     `json:"stdin,omitempty"`
	StdinOnce  bool     `json:"stdinOnce,omitempty"`
	TTY        bool     `json:"tty,omitempty"`
	// Sandbox, when set, runs the command through the sandbox init step.
	Sandbox *isolate.Spec `json:"sandbox,omitempty"`
}

// state is written by the supervisor once the container's process runs.
// ShimPID and ShimStart identify the process that follows the container
// (the supervisor; a dedicated shim in earlier versions), Supervisor the
// socket it answers on.
type state struct {
	ID         string    `json:"id"`
	ShimPID    int       `json:"shimPID"`
	ShimStart  uint64    `json:"shimStart"`
	Supervisor string    `json:"supervisor,omitempty"`
	ChildPID   int       `json:"childPID"`
	StartedAt  time.Time `json:"startedAt"`
	StartError string    `json:"startError,omitempty"`
}

// exitRecord is written by the supervisor once the container's process ended.
type exitRecord struct {
	ExitCode   int32     `json:"exitCode"`
	Signal     int32     `json:"signal,omitempty"`
	FinishedAt time.Time `json:"finishedAt"`
	Reason     string    `json:"reason,omitempty"`
	Message    string    `json:"message,omitempty"`
}

func (e exitRecord) toExit() runtime.Exit {
	return runtime.Exit{ExitCode: e.ExitCode, Signal: e.Signal, FinishedAt: e.FinishedAt, Reason: e.Reason, Message: e.Message}
}

func writeJSON(dir, name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", name, err)
	}
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

func readJSON(dir, name string, v any) error {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decoding %s: %w", filepath.Join(dir, name), err)
	}
	return nil
}

// procStartTime returns a process's start time in clock ticks since boot,
// which together with the pid identifies it across pid reuse.
func procStartTime(pid int) (uint64, error) {
	st, err := procstat.Read(pid)
	if err != nil {
		return 0, err
	}
	return st.Uint(procstat.StartTime)
}
