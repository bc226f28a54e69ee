package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	// claimPrefix names the file, one per container id, whose creator
	// alone may start that attempt (see claimStart).
	claimPrefix = "claim."
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
	_, err := writeJSONData(dir, name, v)
	return err
}

// writeJSONData is writeJSON that also returns what it wrote, for the
// supervisor to send its client the same bytes.
func writeJSONData(dir, name string, v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", name, err)
	}
	return data, writeFile(dir, name, data)
}

func readJSON(dir, name string, v any) error {
	data, err := readFile(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decoding %s: %w", filepath.Join(dir, name), err)
	}
	return nil
}

// claimStart takes the one right to start the attempt of dir whose spec
// has id. The supervisor claims before it starts the process; an agent
// that finds an attempt without a state claims to learn that no start is
// under way and none can follow. Whoever creates the file first wins;
// false means the other side has it.
func claimStart(dir, id string) (bool, error) {
	if id == "" || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." {
		return false, fmt.Errorf("claiming %s: invalid container id %q", dir, id)
	}
	err := createExclusive(filepath.Join(dir, claimPrefix+id), 0o600)
	if errors.Is(err, os.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claiming %s: %w", dir, err)
	}
	return true, nil
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
