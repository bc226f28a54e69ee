package resp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// Options configures a Client. The zero value of every field but Addr works.
type Options struct {
	// Addr is the server's host:port.
	Addr string
	// Username and Password authenticate each new connection (AUTH) when
	// Password is set; Username is for Redis 6 ACL users.
	Username string
	Password string
	// DB is selected (SELECT) on each new connection when non-zero.
	DB int
	// DialTimeout bounds connecting and the AUTH/SELECT handshake; 5s if zero.
	DialTimeout time.Duration
	// IOTimeout bounds one command's round trip, on top of any time the
	// command itself is asked to block; 30s if zero.
	IOTimeout time.Duration
	// Dial replaces the TCP dialer, e.g. for TLS or tests.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Client is a connection to one Redis server, safe for concurrent use:
// commands are serialized on a single connection. A broken connection is
// dropped and the next command dials again.
type Client struct {
	opts Options

	mu   sync.Mutex
	conn net.Conn
	rd   *Reader
	buf  []byte
}

// NewClient returns a client for opts. It connects lazily, on first use.
func NewClient(opts Options) *Client {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.IOTimeout <= 0 {
		opts.IOTimeout = 30 * time.Second
	}
	if opts.Dial == nil {
		d := &net.Dialer{KeepAlive: 30 * time.Second}
		opts.Dial = d.DialContext
	}
	return &Client{opts: opts}
}

// Addr returns the server address the client connects to.
func (c *Client) Addr() string { return c.opts.Addr }

// Do sends one command and returns its reply. An error reply from the server
// is returned as an Error.
func (c *Client) Do(ctx context.Context, args ...any) (Value, error) {
	return c.DoBlocking(ctx, 0, args...)
}

// DoBlocking is Do for a command that may legitimately wait up to block on
// the server (BLMOVE, BLPOP, ...) before replying.
func (c *Client) DoBlocking(ctx context.Context, block time.Duration, args ...any) (Value, error) {
	if len(args) == 0 {
		return Value{}, errors.New("resp: empty command")
	}
	cmd, err := AppendCommand(nil, args...)
	if err != nil {
		return Value{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()

	reused := c.conn != nil
	v, err := c.roundTrip(ctx, block, cmd)
	// A connection that sat idle may have been closed by a server restart;
	// the command never reached a live server, so one retry is safe.
	if err != nil && reused && ctx.Err() == nil && peerClosed(err) {
		v, err = c.roundTrip(ctx, block, cmd)
	}
	if err != nil {
		return Value{}, err
	}
	if v.Kind == ErrorReply {
		return v, Error(v.Str)
	}
	return v, nil
}

// Close closes the current connection, if any. The client stays usable.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.drop()
}

// roundTrip writes cmd and reads one reply, dialing first if needed. Any
// failure other than an error reply leaves the connection closed, because
// its position in the reply stream is unknown.
func (c *Client) roundTrip(ctx context.Context, block time.Duration, cmd []byte) (Value, error) {
	if err := ctx.Err(); err != nil {
		return Value{}, err
	}
	if c.conn == nil {
		if err := c.dial(ctx); err != nil {
			return Value{}, err
		}
	}
	v, err := exchange(ctx, c.conn, c.rd, cmd, time.Now().Add(c.opts.IOTimeout+block))
	if err != nil {
		_ = c.drop()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return Value{}, fmt.Errorf("resp: %s: %w", c.opts.Addr, ctxErr)
		}
		return Value{}, fmt.Errorf("resp: %s: %w", c.opts.Addr, err)
	}
	return v, nil
}

// exchange performs one request/reply on conn, bounded by deadline and by
// ctx: cancelling ctx expires the connection's deadline at once.
func exchange(ctx context.Context, conn net.Conn, rd *Reader, cmd []byte, deadline time.Time) (Value, error) {
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return Value{}, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(cmd); err != nil {
		return Value{}, err
	}
	return rd.ReadValue()
}

func (c *Client) dial(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	conn, err := c.opts.Dial(dctx, "tcp", c.opts.Addr)
	if err != nil {
		return fmt.Errorf("resp: connect %s: %w", c.opts.Addr, err)
	}
	rd := NewReader(conn)
	deadline := time.Now().Add(c.opts.DialTimeout)
	var handshake [][]any
	if c.opts.Password != "" {
		if c.opts.Username != "" {
			handshake = append(handshake, []any{"AUTH", c.opts.Username, c.opts.Password})
		} else {
			handshake = append(handshake, []any{"AUTH", c.opts.Password})
		}
	}
	if c.opts.DB != 0 {
		handshake = append(handshake, []any{"SELECT", c.opts.DB})
	}
	for _, args := range handshake {
		cmd, err := AppendCommand(nil, args...)
		if err == nil {
			var v Value
			v, err = exchange(dctx, conn, rd, cmd, deadline)
			if err == nil && v.Kind == ErrorReply {
				err = Error(v.Str)
			}
		}
		if err != nil {
			_ = conn.Close()
			return fmt.Errorf("resp: %s %s: %w", c.opts.Addr, args[0], err)
		}
	}
	c.conn, c.rd = conn, rd
	return nil
}

func (c *Client) drop() error {
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn, c.rd = nil, nil
	return err
}

// peerClosed reports errors meaning the server had already closed the
// connection before reading our command.
func peerClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}
