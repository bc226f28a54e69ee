package isolate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
)

// Setup is the parent's side of a wrapped command's init step.
type Setup struct {
	payload     []byte
	specW, errR *os.File
	childEnds   []*os.File
	started     bool
}

// Wrap rewrites cmd so that it runs through the init step: initArgv (this
// binary and InitSubcommand, e.g. {os.Executable(), InitSubcommand}) is
// started instead, in new namespaces when sp.Namespaces is set, and execs
// cmd's Path, Args, Env and Dir once the sandbox is ready. cmd keeps its
// stdio, ExtraFiles (their numbers are unchanged) and SysProcAttr.
//
// After cmd.Start the caller must call Setup.Wait (or Setup.Abort when
// Start failed).
func Wrap(cmd *exec.Cmd, sp Spec, initArgv []string) (*Setup, error) {
	if len(initArgv) == 0 {
		return nil, errors.New("sandbox: no init command")
	}
	if err := validate(sp); err != nil {
		return nil, err
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	is := initSpec{Spec: sp, Path: cmd.Path, Args: cmd.Args, Env: env, Dir: cmd.Dir}
	specFD := 3 + len(cmd.ExtraFiles)
	var netns *os.File
	if sp.NetNS != "" {
		var err error
		if netns, err = openNetns(sp.NetNS); err != nil {
			return nil, err
		}
		is.NetNSFD = specFD + 2
	}
	payload, err := encodeSpec(is)
	if err != nil {
		closeFile(netns)
		return nil, err
	}
	specR, specW, err := os.Pipe()
	if err != nil {
		closeFile(netns)
		return nil, fmt.Errorf("sandbox: creating spec pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeFile(netns)
		specR.Close()
		specW.Close()
		return nil, fmt.Errorf("sandbox: creating status pipe: %w", err)
	}
	childEnds := []*os.File{specR, errW}
	cmd.ExtraFiles = append(cmd.ExtraFiles, specR, errW)
	if netns != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, netns)
		childEnds = append(childEnds, netns)
	}
	cmd.Path = initArgv[0]
	cmd.Args = append(append([]string{}, initArgv...), strconv.Itoa(specFD), strconv.Itoa(specFD+1))
	// The init step gets a clean environment; the container's is applied
	// at its exec. Its working directory may only exist inside the sandbox.
	cmd.Env = []string{}
	cmd.Dir = ""
	if sp.Namespaces {
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC
	}
	return &Setup{payload: payload, specW: specW, errR: errR, childEnds: childEnds}, nil
}

func validate(sp Spec) error {
	if !sp.Namespaces {
		if sp.Hostname != "" || len(sp.Mounts) > 0 || sp.NetNS != "" {
			return &UnsupportedError{Field: "spec", Message: "hostname, volume mounts and a pod network need namespaces, which are disabled on this node"}
		}
		return nil
	}
	if os.Geteuid() != 0 {
		return &UnsupportedError{Field: "spec", Message: "mount, UTS and PID namespaces require running as root"}
	}
	for _, m := range sp.Mounts {
		if !filepath.IsAbs(m.Target) {
			return fmt.Errorf("sandbox: mount target %q is not absolute", m.Target)
		}
		if m.Source == "" {
			return fmt.Errorf("sandbox: mount at %q has no source", m.Target)
		}
	}
	return nil
}

// Wait hands the spec to the started init step and waits until it has
// either exec'd the container's command (nil) or failed to set the
// sandbox up (a *SetupError; the process then exits on its own).
func (s *Setup) Wait() error {
	if s.started {
		return errors.New("sandbox: Wait called twice")
	}
	s.started = true
	s.closeChildEnds()
	defer s.errR.Close()
	_, werr := s.specW.Write(s.payload)
	s.specW.Close()
	msg, rerr := io.ReadAll(s.errR)
	switch {
	case len(msg) > 0:
		return &SetupError{Message: statusMessage(msg)}
	case rerr != nil:
		return fmt.Errorf("sandbox: reading init status: %w", rerr)
	case werr != nil:
		return &SetupError{Message: fmt.Sprintf("sandbox init ended before reading its spec: %v", werr)}
	}
	return nil
}

// Abort releases the pipes when cmd.Start failed.
func (s *Setup) Abort() {
	s.closeChildEnds()
	s.specW.Close()
	s.errR.Close()
}

func (s *Setup) closeChildEnds() {
	for _, f := range s.childEnds {
		f.Close()
	}
	s.childEnds = nil
}

// Validate reports whether sp can be honoured by this process: an
// *UnsupportedError when it asks for what needs privileges it lacks.
func Validate(sp Spec) error { return validate(sp) }
