package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// earlierShimSubcommand runs the test binary as a supervisor of the
// version before multiplexed connections (see TestMain).
const earlierShimSubcommand = "runtime-shim-earlier"

// newEarlierRuntime returns a runtime whose supervisor refuses
// multiplexed connections, as the previous version's does.
func newEarlierRuntime(t *testing.T, root string) *Runtime {
	t.Helper()
	r, err := New(Options{Root: root, ShimCommand: []string{os.Args[0], earlierShimSubcommand}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopSupervisor(t, r) })
	return r
}

// muxOf returns the runtime's multiplexed connection to its own
// supervisor, or nil.
func muxOf(t *testing.T, r *Runtime) *supConn {
	t.Helper()
	key, err := r.supervisorKey()
	if err != nil {
		t.Fatal(err)
	}
	sock, _ := supervisorFiles(r.root, key)
	r.connMu.Lock()
	defer r.connMu.Unlock()
	return r.conns[sock]
}

// TestStartsShareOneConnection: the containers of a runtime are started
// and followed over one connection to the supervisor.
func TestStartsShareOneConnection(t *testing.T) {
	r := newRuntime(t)
	var sc *supConn
	for code := range 3 {
		ctr, err := r.Start(context.Background(), cfg(t, "sh", "-c", fmt.Sprintf("exit %d", code)))
		if err != nil {
			t.Fatal(err)
		}
		if exit := waitExit(t, ctr); exit.ExitCode != int32(code) {
			t.Fatalf("exit = %+v, want %d", exit, code)
		}
		now := muxOf(t, r)
		if now == nil || sc != nil && now != sc {
			t.Fatalf("container %d: multiplexed connection %p, before %p", code, now, sc)
		}
		sc = now
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if len(sc.calls) != 0 {
		t.Fatalf("%d calls left on the connection after every container ended", len(sc.calls))
	}
}

// TestEarlierSupervisor: a supervisor that refuses multiplexed
// connections still starts, reports and hands over containers, each over
// a connection of its own.
func TestEarlierSupervisor(t *testing.T) {
	root := t.TempDir()
	r := newEarlierRuntime(t, root)
	ctr, err := r.Start(context.Background(), cfg(t, "sh", "-c", "exit 3"))
	if err != nil {
		t.Fatal(err)
	}
	if exit := waitExit(t, ctr); exit.ExitCode != 3 {
		t.Fatalf("exit = %+v, want 3", exit)
	}
	key, err := r.supervisorKey()
	if err != nil {
		t.Fatal(err)
	}
	sock, _ := supervisorFiles(root, key)
	if sc := muxOf(t, r); sc != nil || !r.noMux[sock] {
		t.Fatal("a multiplexed connection to a supervisor that refuses them")
	}
	_, err = r.Start(context.Background(), cfg(t, "no-such-command-xyz"))
	if err == nil {
		t.Fatal("a missing command started")
	}

	c := cfg(t, "sleep", "30")
	if _, err := r.Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	adopted := adoptRunning(t, newEarlierRuntime(t, root), c.StateDir)
	if err := adopted.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if exit := waitExit(t, adopted); exit.ExitCode != 143 {
		t.Fatalf("adopted exit = %+v, want 143", exit)
	}
}

// TestStartOverOwnConnection: a runtime of the version before
// multiplexed connections starts a container over a connection of its
// own and learns its exit there.
func TestStartOverOwnConnection(t *testing.T) {
	r := newRuntime(t)
	c := cfg(t, "sh", "-c", "exit 6")
	if err := os.MkdirAll(c.StateDir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := logDir(c.LogPath); err != nil {
		t.Fatal(err)
	}
	// An earlier runtime encoded the spec inside its request.
	sp := spec{ID: c.ID, Argv: c.Argv, Env: c.Env, LogPath: c.LogPath}
	if err := writeJSON(c.StateDir, specFile, sp); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(struct {
		Op   string `json:"op"`
		Dir  string `json:"dir"`
		Spec *spec  `json:"spec"`
	}{opStart, c.StateDir, &sp})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := r.dialSupervisor()
	if err != nil {
		t.Fatal(err)
	}
	fw := &frameWriter{w: conn}
	if err := fw.write(supFrameRequest, data); err != nil {
		t.Fatal(err)
	}
	kind, p, err := readFrame(conn)
	if err != nil {
		t.Fatal(err)
	}
	st, err := answerState(kind, p)
	if err != nil || st.ChildPID == 0 {
		t.Fatalf("answer %+v, %v", st, err)
	}
	ctr := newContainer(c.StateDir, st)
	go ctr.follow(conn)
	if exit := waitExit(t, ctr); exit.ExitCode != 6 {
		t.Fatalf("exit = %+v, want 6", exit)
	}
}

// testSupervisor is a supervisor in this process that runs no containers,
// for its connection handling.
func testSupervisor(t *testing.T) *supervisor {
	t.Helper()
	dir := t.TempDir()
	sock, lock := supervisorFiles(dir, "test")
	ln, err := listenSocket(sock)
	if err != nil {
		t.Fatal(err)
	}
	s := &supervisor{sockPath: sock, lockPath: lock, idle: time.Hour, env: &shimEnv{}, ln: ln,
		exited: make(chan struct{}), containers: map[string]*shimContainer{}, muxes: map[*muxConn]struct{}{}}
	// Reachable on its socket, it waits out its idle time.
	var st unix.Stat_t
	if err := unix.Stat(sock, &st); err != nil {
		t.Fatal(err)
	}
	s.sockIno = st.Ino
	t.Cleanup(func() {
		s.mu.Lock()
		s.closing = true
		if s.timer != nil {
			s.timer.Stop()
		}
		s.mu.Unlock()
		ln.Close()
	})
	return s
}

// muxPair connects a runtime's multiplexed connection to s.
func muxPair(t *testing.T, s *supervisor) *supConn {
	t.Helper()
	// Non-blocking, in the poller, as dialled and accepted connections are.
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	client, server := os.NewFile(uintptr(fds[0]), "client"), os.NewFile(uintptr(fds[1]), "server")
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	go func() {
		defer server.Close()
		s.handle(server)
		s.mu.Lock()
		s.conns--
		s.mu.Unlock()
	}()
	sc, err := openMux("test", client)
	if err != nil {
		t.Fatal(err)
	}
	sc.gone = func(*supConn) {}
	go sc.read()
	t.Cleanup(func() { client.Close() })
	return sc
}

func TestMultiplexedRequests(t *testing.T) {
	s := testSupervisor(t)
	sc := muxPair(t, s)
	c := newContainer("/nowhere", state{})
	if a, err := sc.call(supRequest{Op: opWatch, Dir: "/nowhere"}, c); err != nil || a.kind != supFrameUnknown {
		t.Fatalf("watch of an unknown container = %+v, %v; want supFrameUnknown", a, err)
	}
	a, err := sc.call(supRequest{Op: opInfo}, c)
	if _, aerr := answerState(a.kind, a.p); err != nil || !errors.As(aerr, new(*supRefusal)) {
		t.Fatalf("info on a multiplexed connection = %+v, %v; want a refusal", a, err)
	}
	a, err = sc.call(supRequest{Op: opStart, Dir: "/nowhere"}, c)
	if _, aerr := answerState(a.kind, a.p); err != nil || !errors.As(aerr, new(*supRefusal)) {
		t.Fatalf("start without a spec = %+v, %v; want a refusal", a, err)
	}
	eventually(t, "the requests to be done", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.busy == 0 && s.conns == 0 && len(s.muxes) == 1
	})
}

// TestExitingSupervisorTakesNoRequest: a request that reaches a
// supervisor that has begun to exit is not taken, and the runtime learns
// so from the connection's end, to ask the next supervisor.
func TestExitingSupervisorTakesNoRequest(t *testing.T) {
	s := testSupervisor(t)
	sc := muxPair(t, s)
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	_, err := sc.call(supRequest{Op: opWatch, Dir: "/nowhere"}, newContainer("/nowhere", state{}))
	if !errors.Is(err, errConnLost) {
		t.Fatalf("request to an exiting supervisor = %v, want errConnLost", err)
	}
	if _, err := sc.call(supRequest{Op: opWatch, Dir: "/nowhere"}, nil); !errors.Is(err, errConnLost) {
		t.Fatalf("request on a lost connection = %v, want errConnLost", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy != 0 {
		t.Fatalf("%d requests taken by an exiting supervisor", s.busy)
	}
}

// TestLostConnectionFinishesFollowedContainers: containers followed on a
// connection that ends go by their state directory's files.
func TestLostConnectionFinishesFollowedContainers(t *testing.T) {
	dir := t.TempDir()
	rec := exitRecord{ExitCode: 9, FinishedAt: time.Now()}
	if err := writeJSON(dir, exitFile, rec); err != nil {
		t.Fatal(err)
	}
	s := testSupervisor(t)
	running := &shimContainer{dir: dir, done: make(chan struct{})}
	s.containers[dir] = running
	sc := muxPair(t, s)
	c := newContainer(dir, state{})
	if a, err := sc.call(supRequest{Op: opWatch, Dir: dir}, c); err != nil || a.kind != supFrameState {
		t.Fatalf("watch = %+v, %v; want the state", a, err)
	}
	select {
	case <-c.Done():
		t.Fatal("container done before its exit")
	case <-time.After(50 * time.Millisecond):
	}
	sc.conn.Close()
	if exit := waitExit(t, c); exit.ExitCode != 9 {
		t.Fatalf("exit = %+v, want the recorded 9", exit)
	}
}

// TestExitFollowsOnMultiplexedConnection: an exit recorded after the
// answer reaches the runtime on the connection.
func TestExitFollowsOnMultiplexedConnection(t *testing.T) {
	dir := t.TempDir()
	s := testSupervisor(t)
	running := &shimContainer{dir: dir, done: make(chan struct{})}
	s.track(running)
	sc := muxPair(t, s)
	c := newContainer(dir, state{})
	if a, err := sc.call(supRequest{Op: opWatch, Dir: dir}, c); err != nil || a.kind != supFrameState {
		t.Fatalf("watch = %+v, %v; want the state", a, err)
	}
	running.record(exitRecord{ExitCode: 4, Reason: "Error", FinishedAt: time.Now()})
	if exit := waitExit(t, c); exit.ExitCode != 4 || exit.Reason != "Error" {
		t.Fatalf("exit = %+v, want 4 Error", exit)
	}
	if s.lookup(dir) != nil {
		t.Fatal("the ended container is still listed")
	}
}

// TestClaimAttempt: a start request may start only the attempt whose spec
// spec.json holds.
func TestClaimAttempt(t *testing.T) {
	sp := spec{ID: "c1", Argv: []string{"true"}}
	data, err := json.Marshal(sp)
	if err != nil {
		t.Fatal(err)
	}
	indented, err := json.MarshalIndent(sp, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	other, err := json.Marshal(spec{ID: "c2", Argv: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		onDisk []byte
		ok     bool
	}{
		{"same bytes", data, true},
		{"encoded otherwise", indented, true},
		{"another attempt", other, false},
		{"no spec", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.onDisk != nil {
				if err := writeFile(dir, specFile, tc.onDisk); err != nil {
					t.Fatal(err)
				}
			}
			err := claimAttempt(dir, sp.ID, data)
			if tc.ok != (err == nil) {
				t.Fatalf("claimAttempt = %v, want ok %v", err, tc.ok)
			}
			_, serr := os.Stat(filepath.Join(dir, claimPrefix+sp.ID))
			if tc.ok != (serr == nil) {
				t.Fatalf("claim file: %v, want it kept only when the claim holds", serr)
			}
			if tc.ok {
				if err := claimAttempt(dir, sp.ID, data); !errors.Is(err, errNotClaimed) {
					t.Fatalf("second claim = %v, want errNotClaimed", err)
				}
			}
		})
	}
}

// TestStartAskedAgainWhenNotTaken: a start request the supervisor did
// not take (it was exiting and closed the connection unanswered) goes to
// the next supervisor.
func TestStartAskedAgainWhenNotTaken(t *testing.T) {
	r := newRuntime(t)
	pid := supervisorPID(t, r)
	key, err := r.supervisorKey()
	if err != nil {
		t.Fatal(err)
	}
	sock, _ := supervisorFiles(r.root, key)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	client, exiting := os.NewFile(uintptr(fds[0]), "client"), os.NewFile(uintptr(fds[1]), "exiting")
	stale := &supConn{sock: sock, conn: client, fw: frameWriter{w: client}, calls: map[uint64]*supCall{}, gone: r.dropConn}
	r.connMu.Lock()
	r.conns = map[string]*supConn{sock: stale}
	r.connMu.Unlock()
	go stale.read()
	read := make(chan error, 1)
	go func() {
		_, _, err := readFrame(exiting)
		exiting.Close()
		read <- err
	}()

	ctr, err := r.Start(context.Background(), cfg(t, "sh", "-c", "exit 2"))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatalf("the request did not reach the exiting supervisor: %v", err)
	}
	if exit := waitExit(t, ctr); exit.ExitCode != 2 {
		t.Fatalf("exit = %+v, want 2", exit)
	}
	if st := stateOf(t, ctr.(*container).dir); st.ShimPID != pid {
		t.Fatalf("started by %d, want the supervisor %d", st.ShimPID, pid)
	}
	if sc := muxOf(t, r); sc == nil || sc == stale {
		t.Fatalf("connection %p after the stale %p was lost", sc, stale)
	}
}

// TestRequestCarriesSpecBytes: a start request delivers spec.json's bytes
// unchanged, so that the supervisor's claim compares them and need not
// decode the file.
func TestRequestCarriesSpecBytes(t *testing.T) {
	sp := spec{ID: "c1", Argv: []string{"sh", "-c", "a < b && c > d"}, Env: []string{"X=\u2028é\x01"}}
	data, err := json.Marshal(sp)
	if err != nil {
		t.Fatal(err)
	}
	wire, err := json.Marshal(supRequest{Op: opStart, Dir: "/d", Spec: data})
	if err != nil {
		t.Fatal(err)
	}
	var got supRequest
	if err := json.Unmarshal(wire, &got); err != nil {
		t.Fatal(err)
	}
	if string(got.Spec) != string(data) {
		t.Fatalf("spec arrives as %s, written as %s", got.Spec, data)
	}
}

// TestOversizedRequestLeavesTheConnection: a request too large for a
// frame is refused without ending the connection others are followed on.
func TestOversizedRequestLeavesTheConnection(t *testing.T) {
	s := testSupervisor(t)
	sc := muxPair(t, s)
	huge, err := json.Marshal(spec{ID: "c1", Env: []string{strings.Repeat("x", maxFrame)}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sc.call(supRequest{Op: opStart, Dir: "/nowhere", Spec: huge}, newContainer("/nowhere", state{}))
	if !errors.Is(err, errFrameTooLarge) {
		t.Fatalf("oversized request = %v, want errFrameTooLarge", err)
	}
	if a, err := sc.call(supRequest{Op: opWatch, Dir: "/nowhere"}, newContainer("/nowhere", state{})); err != nil || a.kind != supFrameUnknown {
		t.Fatalf("request after the oversized one = %+v, %v; want supFrameUnknown", a, err)
	}
}
