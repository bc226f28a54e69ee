// Package logfile writes and reads container logs in the CRI log format
// kubelet uses: one entry per line, "<RFC3339Nano time> <stream> <P|F> <text>".
package logfile

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// maxEntry bounds one entry; longer lines are split into partial entries.
const maxEntry = 16 * 1024

// Writer serialises entries from several streams into one file.
type Writer struct {
	mu  sync.Mutex
	out io.Writer
	now func() time.Time
}

// NewWriter writes entries to out, stamped with now (time.Now when nil).
func NewWriter(out io.Writer, now func() time.Time) *Writer {
	if now == nil {
		now = time.Now
	}
	return &Writer{out: out, now: now}
}

// Copy reads r until EOF or error, writing one entry per line of stream
// ("stdout" or "stderr").
func (w *Writer) Copy(stream string, r io.Reader) error {
	br := bufio.NewReaderSize(r, maxEntry)
	for {
		line, isPrefix, err := br.ReadLine()
		if len(line) > 0 || (err == nil && !isPrefix) {
			tag := "F"
			if isPrefix {
				tag = "P"
			}
			if werr := w.entry(stream, tag, line); werr != nil {
				return werr
			}
		}
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

func (w *Writer) entry(stream, tag string, text []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	buf := make([]byte, 0, len(text)+48)
	buf = w.now().UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, ' ')
	buf = append(buf, stream...)
	buf = append(buf, ' ')
	buf = append(buf, tag...)
	buf = append(buf, ' ')
	buf = append(buf, text...)
	buf = append(buf, '\n')
	_, err := w.out.Write(buf)
	return err
}
