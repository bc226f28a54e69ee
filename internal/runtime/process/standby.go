package process

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A shim's start (exec, Go runtime, package initialisation) costs more
// than the container's own exec on small machines. The runtime therefore
// keeps a few shims started ahead of need ("standby"): each waits for the
// state directory of its container on a pipe and then runs exactly as a
// shim started for that container would, in its own session, so it
// outlives the agent the same way. A standby shim whose pipe closes before
// it got a directory (agent gone, or idle too long) exits at once.

// standbyArg is the argument that starts a shim in standby; the kind of
// container it prepares for follows it.
const standbyArg = "--standby"

// Kinds of standby shims: what a shim can prepare depends on the
// container's isolation.
const (
	kindHost      = "host"      // no sandbox: the command is exec'd directly
	kindInit      = "init"      // sandbox without namespaces (cgroups only)
	kindNamespace = "namespace" // sandbox with namespaces
)

// Standby defaults. Pods of one small Job start together from the pool;
// with too small a pool the last of them starts cold, noticeably later,
// and peers that look each other up (the pod-to-pod tutorial's Indexed
// Job of three) can miss one that already finished.
const (
	defaultStandby     = 4
	defaultStandbyIdle = time.Minute
)

// containerKind is the standby kind a container needs.
func containerKind(sp spec) string {
	switch {
	case sp.Sandbox == nil:
		return kindHost
	case sp.Sandbox.Namespaces:
		return kindNamespace
	}
	return kindInit
}

// warmShim is a standby shim as the runtime holds it.
type warmShim struct {
	cmd   *exec.Cmd
	ctl   *os.File // the shim reads its state directory from here
	ready *os.File // the shim closes its end once the container runs
	// exited is closed once the shim process has been reaped.
	exited chan struct{}
	idle   *time.Timer
}

// release tells an unused standby shim to exit.
func (w *warmShim) release() {
	_ = w.ctl.Close()
	_ = w.ready.Close()
}

// shimPool keeps up to size standby shims per kind.
type shimPool struct {
	shim []string
	size int
	idle time.Duration

	mu       sync.Mutex
	warm     map[string][]*warmShim
	starting map[string]int
	closed   bool
}

func newShimPool(shim []string, size int, idle time.Duration) *shimPool {
	return &shimPool{shim: shim, size: size, idle: idle, warm: map[string][]*warmShim{}, starting: map[string]int{}}
}

// take returns a standby shim of kind, or nil when none is ready, and
// starts replacements in the background either way.
func (p *shimPool) take(kind string) *warmShim {
	if p == nil || p.size <= 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.refillLocked(kind)
	for len(p.warm[kind]) > 0 {
		list := p.warm[kind]
		w := list[len(list)-1]
		p.warm[kind] = list[:len(list)-1]
		w.idle.Stop()
		select {
		case <-w.exited:
			w.release()
			continue
		default:
		}
		return w
	}
	return nil
}

func (p *shimPool) refillLocked(kind string) {
	if p.closed {
		return
	}
	for n := len(p.warm[kind]) + p.starting[kind]; n < p.size; n++ {
		p.starting[kind]++
		go p.add(kind)
	}
}

// add starts one standby shim and parks it.
func (p *shimPool) add(kind string) {
	w, err := p.start(kind)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.starting[kind]--
	if err != nil {
		return
	}
	if p.closed {
		w.release()
		return
	}
	w.idle = time.AfterFunc(p.idle, func() { p.expire(kind, w) })
	p.warm[kind] = append(p.warm[kind], w)
}

// expire releases a standby shim that stayed unused for the idle time.
func (p *shimPool) expire(kind string, w *warmShim) {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.warm[kind]
	for i, x := range list {
		if x == w {
			p.warm[kind] = append(list[:i:i], list[i+1:]...)
			w.release()
			return
		}
	}
}

// close releases every standby shim; later takes find none.
func (p *shimPool) close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for kind, list := range p.warm {
		for _, w := range list {
			w.idle.Stop()
			w.release()
		}
		delete(p.warm, kind)
	}
}

func (p *shimPool) start(kind string) (*warmShim, error) {
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating standby pipe: %w", err)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		ctlR.Close()
		ctlW.Close()
		return nil, fmt.Errorf("creating standby pipe: %w", err)
	}
	cmd := exec.Command(p.shim[0], append(append([]string{}, p.shim[1:]...), standbyArg, kind)...)
	cmd.Env = []string{}
	cmd.ExtraFiles = []*os.File{ctlR, readyW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	ctlR.Close()
	readyW.Close()
	if err != nil {
		ctlW.Close()
		readyR.Close()
		return nil, fmt.Errorf("starting standby shim: %w", err)
	}
	w := &warmShim{cmd: cmd, ctl: ctlW, ready: readyR, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(w.exited)
	}()
	return w, nil
}

// handOff gives a standby shim its container and waits until the
// container runs or failed to start. It reports false when the shim
// ended without taking the container, which is then still to be started.
func (w *warmShim) handOff(stateDir string) bool {
	defer w.ready.Close()
	_, err := io.WriteString(w.ctl, stateDir+"\n")
	w.ctl.Close()
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, w.ready)
	if fileExists(stateDir + "/" + stateFile) {
		return true
	}
	// The shim ended first; it took the container only if it recorded so.
	<-w.exited
	return fileExists(stateDir + "/" + stateFile)
}

// awaitContainer is the standby shim's side: it blocks until the runtime
// names the state directory of its container. ok is false when the pipe
// closed first.
func awaitContainer(ctl *os.File) (dir string, ok bool) {
	line, err := bufio.NewReader(ctl).ReadString('\n')
	ctl.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false
	}
	if !strings.HasSuffix(line, "\n") {
		return "", false
	}
	return strings.TrimSuffix(line, "\n"), true
}

// warmPIDs are the process ids of the idle standby shims of kind.
func (p *shimPool) warmPIDs(kind string) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pids []int
	for _, w := range p.warm[kind] {
		pids = append(pids, w.cmd.Process.Pid)
	}
	return pids
}
