package process

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// supConn is the runtime's multiplexed connection to one supervisor
// (supproto.go): it carries the start and watch requests of every
// container, and their exits, with one reader goroutine.
type supConn struct {
	sock string
	conn io.ReadWriteCloser
	fw   frameWriter

	mu    sync.Mutex
	next  uint64
	calls map[uint64]*supCall
	lost  bool
	// gone is told once the connection has ended.
	gone func(*supConn)
}

// supCall is one request on a supConn.
type supCall struct {
	// answer receives the supervisor's answer, and is closed without one
	// when the connection ends first.
	answer   chan supAnswer
	answered bool
	// c receives the exit that follows an answer of supFrameState.
	c *container
}

// supAnswer is the first frame answering a request, without its tag.
type supAnswer struct {
	kind byte
	p    []byte
}

// errNoMux means the supervisor (an earlier version) serves no
// multiplexed connections.
var errNoMux = errors.New("the container supervisor serves no multiplexed connections")

// errConnLost means the connection to the supervisor ended before it
// answered: it did not take the request, or went away while handling it.
var errConnLost = errors.New("the connection to the container supervisor was lost")

// openMux asks the supervisor on conn to multiplex it; errNoMux means it
// cannot, and conn is closed either way on failure.
func openMux(sock string, conn io.ReadWriteCloser) (*supConn, error) {
	fw := &frameWriter{w: conn}
	if err := fw.writeJSON(supFrameRequest, supRequest{Op: opMux}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: %v", errConnLost, err)
	}
	kind, p, err := readFrame(conn)
	switch {
	case err != nil:
		// An exiting supervisor closes the connections it has not taken.
		conn.Close()
		return nil, fmt.Errorf("%w: %v", errConnLost, err)
	case kind == supFrameError:
		conn.Close()
		return nil, errNoMux
	case kind != supFrameMux:
		conn.Close()
		return nil, fmt.Errorf("unexpected frame %d from the container supervisor: %q", kind, p)
	}
	return &supConn{sock: sock, conn: conn, fw: frameWriter{w: conn}, calls: map[uint64]*supCall{}}, nil
}

// call sends req and returns the supervisor's answer. When the answer is
// supFrameState, the exit that follows finishes c; when the connection
// ends before the exit, c finishes from the state directory's files.
// errConnLost means no answer came.
func (sc *supConn) call(req supRequest, c *container) (supAnswer, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return supAnswer{}, fmt.Errorf("encoding the supervisor request: %w", err)
	}
	if tagSize+len(body) > maxFrame {
		// Refused here: a failed write would end the connection, and
		// with it the following of every container on it.
		return supAnswer{}, fmt.Errorf("supervisor request: %w: %d bytes", errFrameTooLarge, tagSize+len(body))
	}
	call := &supCall{answer: make(chan supAnswer, 1), c: c}
	sc.mu.Lock()
	if sc.lost {
		sc.mu.Unlock()
		return supAnswer{}, errConnLost
	}
	sc.next++
	tag := sc.next
	sc.calls[tag] = call
	sc.mu.Unlock()
	if err := sc.fw.writeTagged(supFrameRequest, tag, body); err != nil {
		// The reader ends and reports this call lost with the others: a
		// frame not written whole is not taken.
		sc.conn.Close()
	}
	a, ok := <-call.answer
	if !ok {
		return supAnswer{}, errConnLost
	}
	return a, nil
}

// read delivers the supervisor's frames until the connection ends.
func (sc *supConn) read() {
	br := bufio.NewReaderSize(sc.conn, 4<<10)
	for {
		kind, p, err := readFrame(br)
		if err != nil || len(p) < tagSize {
			break
		}
		tag := binary.BigEndian.Uint64(p)
		p = p[tagSize:]
		sc.mu.Lock()
		call := sc.calls[tag]
		switch {
		case call == nil:
			sc.mu.Unlock()
		case !call.answered:
			call.answered = true
			if kind != supFrameState {
				delete(sc.calls, tag)
			}
			sc.mu.Unlock()
			call.answer <- supAnswer{kind: kind, p: p}
		case kind == supFrameExit:
			delete(sc.calls, tag)
			sc.mu.Unlock()
			call.c.finishFrame(p)
		default:
			sc.mu.Unlock()
		}
	}
	sc.conn.Close()
	sc.mu.Lock()
	sc.lost = true
	calls := sc.calls
	sc.calls = nil
	sc.mu.Unlock()
	sc.gone(sc)
	for _, call := range calls {
		if call.answered {
			call.c.finish()
		} else {
			close(call.answer)
		}
	}
}

// answerState interprets an answer to a start or watch request.
func answerState(kind byte, p []byte) (state, error) {
	var st state
	switch kind {
	case supFrameState:
		if err := json.Unmarshal(p, &st); err != nil {
			return st, fmt.Errorf("decoding the supervisor's answer: %w", err)
		}
		return st, nil
	case supFrameUnknown:
		return st, errUnknownContainer
	case supFrameError:
		return st, &supRefusal{msg: string(p)}
	}
	return st, fmt.Errorf("unexpected frame %d from the container supervisor", kind)
}

// supervisorConn returns the multiplexed connection to the supervisor on
// sock, connecting when there is none; start, when set, starts the
// supervisor when none answers. It returns nil, nil when that supervisor
// serves no multiplexed connections. Callers connecting at the same time
// wait for one connection.
func (r *Runtime) supervisorConn(sock string, start func() error) (*supConn, error) {
	r.connMu.Lock()
	defer r.connMu.Unlock()
	if sc := r.conns[sock]; sc != nil {
		return sc, nil
	}
	if r.noMux[sock] {
		return nil, nil
	}
	conn, err := dialSocket(sock)
	if err != nil && start != nil {
		if err := start(); err != nil {
			return nil, err
		}
		conn, err = dialSocket(sock)
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to the container supervisor: %w", err)
	}
	sc, err := openMux(sock, conn)
	if errors.Is(err, errNoMux) {
		// A supervisor keeps its version as long as its socket's name,
		// which names its binary.
		if r.noMux == nil {
			r.noMux = map[string]bool{}
		}
		r.noMux[sock] = true
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sc.gone = r.dropConn
	if r.conns == nil {
		r.conns = map[string]*supConn{}
	}
	r.conns[sock] = sc
	go sc.read()
	return sc, nil
}

// dropConn forgets a connection that has ended.
func (r *Runtime) dropConn(sc *supConn) {
	r.connMu.Lock()
	defer r.connMu.Unlock()
	if r.conns[sc.sock] == sc {
		delete(r.conns, sc.sock)
	}
}
