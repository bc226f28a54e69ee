package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/batchlet/batchlet/internal/runtime"
)

var _ runtime.Interactive = (*container)(nil)

// Exec runs argv in the container's environment through its supervisor.
func (c *container) Exec(ctx context.Context, argv []string, s runtime.Streams) (int, error) {
	req := sessionRequest{Op: "exec", Argv: argv, TTY: s.TTY, Stdin: s.Stdin != nil, Stdout: s.Stdout != nil, Stderr: s.Stderr != nil}
	ex, err := c.session(ctx, req, s)
	if err != nil {
		return 0, err
	}
	if ex.Error != "" {
		return 0, errors.New(ex.Error)
	}
	return ex.Code, nil
}

// Attach connects to the container's main process through its supervisor.
func (c *container) Attach(ctx context.Context, s runtime.Streams) error {
	req := sessionRequest{Op: "attach", TTY: s.TTY, Stdin: s.Stdin != nil, Stdout: s.Stdout != nil, Stderr: s.Stderr != nil}
	ex, err := c.session(ctx, req, s)
	if err != nil {
		return err
	}
	if ex.Error != "" {
		return errors.New(ex.Error)
	}
	return nil
}

// session runs one session with the supervisor until it sends its exit frame,
// the connection ends or ctx does.
func (c *container) session(ctx context.Context, req sessionRequest, s runtime.Streams) (sessionExit, error) {
	select {
	case <-c.done:
		return sessionExit{}, fmt.Errorf("container %s: %w", c.st.ID, errNoShim)
	default:
	}
	conn, err := c.dialSession()
	if err != nil {
		return sessionExit{}, fmt.Errorf("container %s: %w", c.st.ID, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	fw := &frameWriter{w: conn}
	if err := fw.writeJSON(frameRequest, req); err != nil {
		return sessionExit{}, fmt.Errorf("starting session: %w", err)
	}
	if s.Stdin != nil {
		go func() {
			_, _ = io.Copy(streamWriter{fw, frameStdin}, s.Stdin)
			_ = fw.write(frameStdinClose, nil)
		}()
	}
	if s.Resize != nil {
		go func() {
			for {
				select {
				case sz, ok := <-s.Resize:
					if !ok {
						return
					}
					if fw.writeJSON(frameResize, resizeEvent{Width: sz.Width, Height: sz.Height}) != nil {
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	for {
		kind, p, err := readFrame(conn)
		if err != nil {
			if ctx.Err() != nil {
				return sessionExit{}, ctx.Err()
			}
			if req.Op == "attach" {
				// The session ended with the container.
				return sessionExit{}, nil
			}
			return sessionExit{}, fmt.Errorf("exec session ended without an exit status: %w", err)
		}
		switch kind {
		case frameStdout:
			if s.Stdout != nil {
				if _, err := s.Stdout.Write(p); err != nil {
					return sessionExit{}, err
				}
			}
		case frameStderr:
			if s.Stderr != nil {
				if _, err := s.Stderr.Write(p); err != nil {
					return sessionExit{}, err
				}
			}
		case frameExit:
			var ex sessionExit
			if err := json.Unmarshal(p, &ex); err != nil {
				return sessionExit{}, fmt.Errorf("malformed exit frame: %w", err)
			}
			return ex, nil
		}
	}
}
