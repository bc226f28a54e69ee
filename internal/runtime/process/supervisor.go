package process

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The supervisor is one long-lived process per runtime root and shim
// binary that starts and follows every container of its runtime, in
// goroutines: a process per container (a Go program's start costs more
// CPU than a short container itself) is paid once instead. It runs in its
// own session, so it and its containers outlive the agent; a later agent
// finds it again by its socket in the root directory. It exits by itself
// once it has had no containers and no clients for its idle time.

// superviseMain runs the supervisor until it has been idle long enough.
func superviseMain(args []string) int {
	fs := flag.NewFlagSet(SuperviseArg, flag.ContinueOnError)
	root := fs.String("root", "", "runtime root directory (holds the socket)")
	key := fs.String("key", "", "identity of the shim binary the socket is named by")
	idle := fs.Duration("idle", defaultIdle, "exit after this long without containers and clients")
	forkServer := fs.Bool("fork-server", true, "fork sandboxed containers from one fork server (false: an init step process each)")
	readyFD := fs.Int("ready-fd", -1, "descriptor to close once the socket accepts connections")
	if err := fs.Parse(args); err != nil || *root == "" || *key == "" || fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: "+ShimSubcommand+" "+SuperviseArg+" --root DIR --key KEY [--idle D] [--fork-server=BOOL] [--ready-fd FD]")
		return 2
	}
	var ready *os.File
	if *readyFD > 2 {
		syscall.CloseOnExec(*readyFD)
		ready = os.NewFile(uintptr(*readyFD), "ready")
	}
	// Stay alive through terminal and termination signals aimed at the
	// agent; handled (not ignored) signals reset to default in children.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE)
	// Processes a container leaves behind when their parent ends come to
	// the supervisor, whose reaper collects them, instead of to init.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "becoming a child subreaper: %v\n", err)
	}
	// The supervisor mostly waits: on its clients, the fork server and
	// its children. One processor keeps the Go scheduler from handing
	// work between threads and spinning for more, which costs more than
	// the work itself on a busy node.
	goruntime.GOMAXPROCS(1)
	s, err := newSupervisor(*root, *key, *idle, *forkServer)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if ready != nil {
		ready.Close()
	}
	<-s.exited
	return 0
}

// supervisor is the supervisor process's state.
type supervisor struct {
	sockPath string
	lockPath string
	idle     time.Duration
	env      *shimEnv
	ln       *sockListener
	exited   chan struct{}

	mu sync.Mutex
	// containers are the running containers by state directory.
	containers map[string]*shimContainer
	// conns counts connections being served, multiplexed ones aside.
	conns int
	// muxes are the multiplexed connections; busy counts the requests
	// they carry that are not answered yet.
	muxes   map[*muxConn]struct{}
	busy    int
	closing bool
	// idleSince is when the supervisor last became idle.
	idleSince time.Time
	timer     *time.Timer
	// sockIno identifies the socket file this supervisor listens on.
	sockIno uint64
}

func newSupervisor(root, key string, idle time.Duration, forkServer bool) (*supervisor, error) {
	if idle <= 0 {
		idle = defaultIdle
	}
	sockPath, lockPath := supervisorFiles(root, key)
	s := &supervisor{sockPath: sockPath, lockPath: lockPath, idle: idle, exited: make(chan struct{}),
		containers: map[string]*shimContainer{}, muxes: map[*muxConn]struct{}{}}
	reaper := startReaper()
	s.env = &shimEnv{reaper: reaper, forks: newForkServers(forkServer, reaper)}
	s.env.base.ShimPID = os.Getpid()
	s.env.base.ShimStart, _ = procStartTime(s.env.base.ShimPID)
	s.env.base.Supervisor = sockPath
	ln, err := listenSocket(sockPath)
	if err != nil {
		return nil, fmt.Errorf("supervisor: %w", err)
	}
	s.ln = ln
	var st unix.Stat_t
	if err := unix.Stat(sockPath, &st); err == nil {
		s.sockIno = st.Ino
	}
	s.mu.Lock()
	s.armIdleLocked()
	s.mu.Unlock()
	go s.serve()
	return s, nil
}

func (s *supervisor) serve() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return
			}
			// Out of descriptors, say: runtimes wait in the backlog
			// meanwhile.
			fmt.Fprintf(os.Stderr, "supervisor: %v\n", err)
			time.Sleep(acceptBackoff)
			continue
		}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			conn.Close()
			continue
		}
		s.conns++
		s.mu.Unlock()
		go func() {
			defer func() {
				conn.Close()
				s.mu.Lock()
				s.conns--
				s.armIdleLocked()
				s.mu.Unlock()
			}()
			s.handle(conn)
		}()
	}
}

// handle serves one connection's request.
func (s *supervisor) handle(conn io.ReadWriteCloser) {
	kind, p, err := readFrame(conn)
	if err != nil || kind != supFrameRequest {
		return
	}
	fw := &frameWriter{w: conn}
	var req supRequest
	if err := json.Unmarshal(p, &req); err != nil {
		_ = fw.write(supFrameError, []byte(fmt.Sprintf("malformed request: %v", err)))
		return
	}
	switch req.Op {
	case opInfo:
		s.mu.Lock()
		info := supInfo{PID: os.Getpid(), Containers: len(s.containers)}
		s.mu.Unlock()
		info.ForkServerPID, info.Forked = s.env.forks.stats()
		_ = fw.writeJSON(supFrameInfo, info)
	case opStart:
		c, err := s.start(req)
		if err != nil {
			_ = fw.write(supFrameError, []byte(err.Error()))
			return
		}
		s.report(fw, c)
	case opSession:
		c := s.lookup(req.Dir)
		if c == nil || c.sess == nil {
			_ = fw.write(supFrameUnknown, nil)
			return
		}
		if fw.write(supFrameSession, nil) == nil {
			c.sess.handle(conn)
		}
	case opWatch:
		c := s.lookup(req.Dir)
		if c == nil {
			_ = fw.write(supFrameUnknown, nil)
			return
		}
		s.report(fw, c)
	case opMux:
		if !muxRefused {
			s.serveMux(conn, fw)
			return
		}
		fallthrough
	default:
		_ = fw.write(supFrameError, []byte(fmt.Sprintf("unknown request %q", req.Op)))
	}
}

// muxRefused makes the supervisor refuse opMux as supervisors before it
// did; tests set it to play one.
var muxRefused = false

// start starts and tracks the container a start request describes.
func (s *supervisor) start(req supRequest) (*shimContainer, error) {
	if len(req.Spec) == 0 || req.Dir == "" {
		return nil, errors.New("start request without a container")
	}
	var sp spec
	if err := json.Unmarshal(req.Spec, &sp); err != nil {
		return nil, fmt.Errorf("malformed container spec: %w", err)
	}
	c, err := s.env.start(req.Dir, sp, req.Spec)
	if err != nil {
		return nil, err
	}
	s.track(c)
	return c, nil
}

// lookup returns the running container of dir, or nil.
func (s *supervisor) lookup(dir string) *shimContainer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.containers[dir]
}

// report sends the container's state, then its exit once it has ended.
func (s *supervisor) report(fw *frameWriter, c *shimContainer) {
	if err := fw.write(supFrameState, c.stateJSON()); err != nil {
		return
	}
	<-c.done
	_ = fw.write(supFrameExit, c.exitJSON())
}

// track lists a running container until its exit is recorded.
func (s *supervisor) track(c *shimContainer) {
	s.mu.Lock()
	s.containers[c.dir] = c
	s.mu.Unlock()
	c.setUntrack(func() {
		s.mu.Lock()
		if s.containers[c.dir] == c {
			delete(s.containers, c.dir)
		}
		s.armIdleLocked()
		s.mu.Unlock()
	})
}

// muxConn is a multiplexed connection (see supproto.go).
type muxConn struct {
	conn io.ReadWriteCloser
	fw   *frameWriter
}

// send writes one tagged frame; a failure means the runtime is gone, and
// the connection's reader ends with it.
func (m *muxConn) send(kind byte, tag uint64, body []byte) error {
	return m.fw.writeTagged(kind, tag, body)
}

// serveMux serves a multiplexed connection until it ends. The connection
// keeps the supervisor from exiting only while a request it carries is
// being answered: a runtime keeps its connection as long as it lives.
func (s *supervisor) serveMux(conn io.ReadWriteCloser, fw *frameWriter) {
	m := &muxConn{conn: conn, fw: fw}
	s.mu.Lock()
	// serve counted the connection and counts it out when it ends.
	s.conns--
	s.muxes[m] = struct{}{}
	s.armIdleLocked()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.muxes, m)
		s.conns++
		s.mu.Unlock()
	}()
	if fw.write(supFrameMux, nil) != nil {
		return
	}
	// The runtime sends nothing more before it has the answer, so a
	// buffered reader loses nothing; it reads several requests at once
	// when they come fast.
	br := bufio.NewReaderSize(conn, 4<<10)
	for {
		kind, p, err := readFrame(br)
		if err != nil || kind != supFrameRequest || len(p) < tagSize {
			return
		}
		tag := binary.BigEndian.Uint64(p)
		var req supRequest
		if err := json.Unmarshal(p[tagSize:], &req); err != nil {
			_ = m.send(supFrameError, tag, []byte(fmt.Sprintf("malformed request: %v", err)))
			continue
		}
		s.mu.Lock()
		if s.closing {
			// Exiting: the request is not taken, and the connection ends
			// without an answer.
			s.mu.Unlock()
			return
		}
		s.busy++
		s.mu.Unlock()
		go s.muxRequest(m, tag, req)
	}
}

// muxRequest answers one request of a multiplexed connection and has the
// container's exit follow on it.
func (s *supervisor) muxRequest(m *muxConn, tag uint64, req supRequest) {
	defer func() {
		s.mu.Lock()
		s.busy--
		s.armIdleLocked()
		s.mu.Unlock()
	}()
	var c *shimContainer
	switch req.Op {
	case opStart:
		var err error
		if c, err = s.start(req); err != nil {
			_ = m.send(supFrameError, tag, []byte(err.Error()))
			return
		}
	case opWatch:
		if c = s.lookup(req.Dir); c == nil {
			_ = m.send(supFrameUnknown, tag, nil)
			return
		}
	default:
		_ = m.send(supFrameError, tag, []byte(fmt.Sprintf("request %q is not served on a multiplexed connection", req.Op)))
		return
	}
	if m.send(supFrameState, tag, c.stateJSON()) == nil {
		c.onExit(func(c *shimContainer) { _ = m.send(supFrameExit, tag, c.exitJSON()) })
	}
}

// acceptBackoff is the pause after a failed accept.
const acceptBackoff = 50 * time.Millisecond

// idleCheck is how often an idle supervisor checks that its socket is
// still reachable: once its directory is removed nobody can reach it
// again, and it need not wait out its idle time.
const idleCheck = time.Second

// armIdleLocked starts the idle countdown when nothing is going on.
func (s *supervisor) armIdleLocked() {
	if !s.idleLocked() {
		return
	}
	s.idleSince = time.Now()
	step := min(s.idle, idleCheck)
	if s.timer == nil {
		s.timer = time.AfterFunc(step, s.idleTick)
		return
	}
	s.timer.Reset(step)
}

// idleLocked reports whether nothing is going on.
func (s *supervisor) idleLocked() bool {
	return !s.closing && s.conns == 0 && s.busy == 0 && len(s.containers) == 0
}

// idleTick ends the supervisor once it has been idle for its idle time or
// its socket has gone, and checks again later otherwise.
func (s *supervisor) idleTick() {
	s.mu.Lock()
	if !s.idleLocked() {
		s.mu.Unlock()
		return
	}
	if time.Since(s.idleSince) < s.idle && s.reachable() {
		s.timer.Reset(min(s.idle-time.Since(s.idleSince), idleCheck))
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.idleExit()
}

// reachable reports whether the socket path still leads to this
// supervisor.
func (s *supervisor) reachable() bool {
	var st unix.Stat_t
	return unix.Stat(s.sockPath, &st) == nil && st.Ino == s.sockIno
}

// idleExit ends the supervisor if it is still idle. It holds the lock the
// runtime takes to start a supervisor, so that a runtime either reaches
// this one before it stops accepting or starts a new one after it has.
func (s *supervisor) idleExit() {
	lock, err := lockFile(s.lockPath, false)
	if errors.Is(err, unix.EWOULDBLOCK) {
		// A runtime is starting one, or about to use this one: look again
		// later.
		s.mu.Lock()
		if !s.closing {
			s.timer.Reset(idleCheck)
		}
		s.mu.Unlock()
		return
	}
	// Without a lock file (its directory is gone) nobody can start
	// another supervisor here either.
	if lock != nil {
		defer lock.Close()
	}
	s.mu.Lock()
	if !s.idleLocked() {
		s.mu.Unlock()
		return
	}
	s.closing = true
	_ = s.ln.Close()
	// Requests read from here on are not taken; those not read yet never
	// will be.
	for m := range s.muxes {
		_ = m.conn.Close()
	}
	s.mu.Unlock()
	s.env.forks.close()
	close(s.exited)
}

// lockFile opens path and takes an exclusive lock on it, waiting for it
// when wait is set; closing the file releases it.
func lockFile(path string, wait bool) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// supervisorFiles are the socket and lock file of the supervisor of key
// in root.
func supervisorFiles(root, key string) (sock, lock string) {
	base := filepath.Join(root, "supervisor-"+key)
	return base + ".sock", base + ".lock"
}
