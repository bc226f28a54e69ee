package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// errUnknownContainer means the supervisor runs no container in the
// directory asked about.
var errUnknownContainer = errors.New("the supervisor does not run this container")

// supRefusal is a request the supervisor answered with an error.
type supRefusal struct{ msg string }

func (e *supRefusal) Error() string { return "supervisor: " + e.msg }

// shimKey is a supervisor key and the identity of the shim binary it was
// made from.
type shimKey struct {
	dev, ino     uint64
	size, mtimeN int64
	key          string
}

// supervisorKey names the supervisor of this runtime's shim binary: a
// replaced binary (an upgrade) gets a supervisor of its own while the old
// one finishes its containers. It is made again only when the binary's
// identity changed since the last call.
func (r *Runtime) supervisorKey() (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(r.shim[0], &st); err != nil {
		return "", fmt.Errorf("locating the shim binary: %w", &os.PathError{Op: "stat", Path: r.shim[0], Err: err})
	}
	id := shimKey{dev: st.Dev, ino: st.Ino, size: st.Size, mtimeN: st.Mtim.Nano()}
	r.keyMu.Lock()
	defer r.keyMu.Unlock()
	if k := r.key; k.key != "" && k.dev == id.dev && k.ino == id.ino && k.size == id.size && k.mtimeN == id.mtimeN {
		return k.key, nil
	}
	h := fnv.New64a()
	for _, a := range r.shim {
		_, _ = io.WriteString(h, a+"\x00")
	}
	_, _ = fmt.Fprintf(h, "%d:%d:", id.dev, id.ino)
	_, _ = fmt.Fprintf(h, "%d:%d", id.size, id.mtimeN)
	id.key = strconv.FormatUint(h.Sum64(), 16)
	r.key = id
	return id.key, nil
}

// dialSupervisor connects to this runtime's supervisor, starting it when
// none answers.
func (r *Runtime) dialSupervisor() (io.ReadWriteCloser, error) {
	key, err := r.supervisorKey()
	if err != nil {
		return nil, err
	}
	sock, _ := supervisorFiles(r.root, key)
	if conn, err := dialSocket(sock); err == nil {
		return conn, nil
	}
	if err := r.startSupervisor(key); err != nil {
		return nil, err
	}
	conn, err := dialSocket(sock)
	if err != nil {
		return nil, fmt.Errorf("connecting to the container supervisor: %w", err)
	}
	return conn, nil
}

// startSupervisor starts the supervisor of key unless one answers by the
// time this runtime holds the start lock, and returns once it accepts
// connections.
func (r *Runtime) startSupervisor(key string) error {
	if err := ensureRoot(r.root, r.defaultRoot); err != nil {
		return err
	}
	sock, lockPath := supervisorFiles(r.root, key)
	lock, err := lockFile(lockPath, true)
	if err != nil {
		return fmt.Errorf("locking the container supervisor: %w", err)
	}
	defer lock.Close()
	conn, err := dialSocket(sock)
	if err == nil {
		conn.Close()
		return nil
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		// Left behind by a supervisor that did not exit cleanly.
		_ = os.Remove(sock)
	}
	logFile, err := os.OpenFile(filepath.Join(r.root, "supervisor-"+key+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("opening the supervisor log: %w", err)
	}
	defer logFile.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("creating the supervisor pipe: %w", err)
	}
	defer readyR.Close()
	args := append(append([]string{}, r.shim[1:]...), SuperviseArg, "--root", r.root, "--key", key,
		"--idle", r.idle.String(), "--fork-server="+strconv.FormatBool(r.forkServer), "--ready-fd", "3")
	cmd := exec.Command(r.shim[0], args...)
	cmd.Env = []string{}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.ExtraFiles = []*os.File{readyW}
	// Its own session: neither the agent's end nor signals aimed at the
	// agent's process group reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		return fmt.Errorf("starting the container supervisor: %w", err)
	}
	go reapChild(cmd)
	// The supervisor closes its end once it listens, or by exiting.
	_, _ = io.Copy(io.Discard, readyR)
	return nil
}

// reapChild collects a started supervisor when it exits, parked in the
// network poller rather than in a thread.
func reapChild(cmd *exec.Cmd) {
	if pidfd, err := unix.PidfdOpen(cmd.Process.Pid, 0); err == nil {
		waitPidfd(pidfd)
	}
	_ = cmd.Wait()
}

// ensureRoot creates the runtime's root directory. The default one lives
// in a shared temporary directory: it must be this user's own directory,
// not something placed there by another.
func ensureRoot(dir string, shared bool) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the runtime directory: %w", err)
	}
	if !shared {
		return nil
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("checking the runtime directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("runtime directory %s is not a private directory of this user", dir)
	}
	return nil
}

// request sends req and reads the supervisor's answer: the container's
// state, or the supervisor's info into info.
func request(conn io.ReadWriter, req supRequest, info *supInfo) (state, error) {
	fw := &frameWriter{w: conn}
	if err := fw.writeJSON(supFrameRequest, req); err != nil {
		return state{}, fmt.Errorf("sending to the container supervisor: %w", err)
	}
	kind, p, err := readFrame(conn)
	if err != nil {
		return state{}, fmt.Errorf("reading from the container supervisor: %w", err)
	}
	var st state
	switch kind {
	case supFrameState:
		err = json.Unmarshal(p, &st)
	case supFrameInfo:
		if info == nil {
			return st, errors.New("unexpected answer from the container supervisor")
		}
		err = json.Unmarshal(p, info)
	case supFrameUnknown:
		return st, errUnknownContainer
	case supFrameError:
		return st, &supRefusal{msg: string(p)}
	default:
		return st, fmt.Errorf("unexpected frame %d from the container supervisor", kind)
	}
	if err != nil {
		return st, fmt.Errorf("decoding the supervisor's answer: %w", err)
	}
	return st, nil
}

// SupervisorPID returns the process id of the supervisor that runs this
// runtime's containers, starting it when none runs.
func (r *Runtime) SupervisorPID() (int, error) {
	conn, err := r.dialSupervisor()
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var info supInfo
	if _, err := request(conn, supRequest{Op: opInfo}, &info); err != nil {
		return 0, err
	}
	return info.PID, nil
}
