package logfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Entry is one parsed log entry.
type Entry struct {
	Time    time.Time
	Stream  string
	Partial bool
	Text    []byte
}

// Parse decodes one line (without its trailing newline).
func Parse(line []byte) (Entry, error) {
	var e Entry
	parts := bytes.SplitN(line, []byte{' '}, 4)
	if len(parts) < 3 {
		return e, fmt.Errorf("malformed log entry %q", line)
	}
	t, err := time.Parse(time.RFC3339Nano, string(parts[0]))
	if err != nil {
		return e, fmt.Errorf("malformed log time: %w", err)
	}
	e.Time, e.Stream, e.Partial = t, string(parts[1]), string(parts[2]) == "P"
	if len(parts) == 4 {
		e.Text = parts[3]
	}
	return e, nil
}

// Options select and format entries, with the meaning of the pod log
// subresource's query parameters.
type Options struct {
	// TailLines, when >= 0, keeps only the last TailLines lines.
	TailLines  int64
	SinceTime  time.Time
	Timestamps bool
	// LimitBytes, when > 0, stops output after that many bytes.
	LimitBytes int64
	Follow     bool
	// Done reports whether the writer of the file has finished; Follow
	// stops once it has and everything written is sent.
	Done func() bool
	// PollInterval is how often a followed file is checked for new data.
	PollInterval time.Duration
	// Flush is called after each batch of output when following.
	Flush func()
}

var errLimit = errors.New("log byte limit reached")

// Copy writes the selected entries of the log at path to out.
func Copy(ctx context.Context, out io.Writer, path string, opts Options) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening log: %w", err)
	}
	defer f.Close()
	lw := &limitWriter{w: out, left: opts.LimitBytes, limited: opts.LimitBytes > 0}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("reading log: %w", err)
	}
	complete := bytes.LastIndexByte(data, '\n') + 1
	lines := splitLines(data[:complete])
	if opts.TailLines >= 0 && int64(len(lines)) > opts.TailLines {
		lines = lines[int64(len(lines))-opts.TailLines:]
	}
	if err := writeLines(lw, lines, opts); err != nil {
		return ignoreLimit(err)
	}
	if !opts.Follow {
		return nil
	}
	pending := append([]byte(nil), data[complete:]...)
	interval := opts.PollInterval
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	buf := make([]byte, 64*1024)
	for {
		done := opts.Done == nil || opts.Done()
		for {
			n, rerr := f.Read(buf)
			pending = append(pending, buf[:n]...)
			if rerr != nil || n == 0 {
				break
			}
		}
		if end := bytes.LastIndexByte(pending, '\n') + 1; end > 0 {
			if err := writeLines(lw, splitLines(pending[:end]), opts); err != nil {
				return ignoreLimit(err)
			}
			pending = append(pending[:0], pending[end:]...)
			if opts.Flush != nil {
				opts.Flush()
			}
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

func ignoreLimit(err error) error {
	if errors.Is(err, errLimit) {
		return nil
	}
	return err
}

func splitLines(data []byte) [][]byte {
	var lines [][]byte
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		lines = append(lines, data[:i])
		data = data[i+1:]
	}
	return lines
}

func writeLines(w io.Writer, lines [][]byte, opts Options) error {
	for _, line := range lines {
		e, err := Parse(line)
		if err != nil {
			continue
		}
		if !opts.SinceTime.IsZero() && e.Time.Before(opts.SinceTime) {
			continue
		}
		var buf []byte
		if opts.Timestamps {
			buf = e.Time.UTC().AppendFormat(buf, time.RFC3339Nano)
			buf = append(buf, ' ')
		}
		buf = append(buf, e.Text...)
		if !e.Partial {
			buf = append(buf, '\n')
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// limitWriter passes at most left bytes when limited.
type limitWriter struct {
	w       io.Writer
	left    int64
	limited bool
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if !l.limited {
		return l.w.Write(p)
	}
	if int64(len(p)) <= l.left {
		n, err := l.w.Write(p)
		l.left -= int64(n)
		return n, err
	}
	n, err := l.w.Write(p[:l.left])
	l.left -= int64(n)
	if err != nil {
		return n, err
	}
	return n, errLimit
}
