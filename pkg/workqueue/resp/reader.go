package resp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Limits that keep a malformed or hostile stream from exhausting memory.
const (
	maxBulkLen   = 512 << 20 // Redis' own proto-max-bulk-len default
	maxArrayLen  = 1 << 24
	maxDepth     = 32
	maxLineBytes = 64 << 10
)

// ErrProtocol is wrapped by every error caused by a malformed reply.
var ErrProtocol = errors.New("resp: protocol error")

// Reader decodes replies from a stream.
type Reader struct {
	br *bufio.Reader
}

// NewReader returns a Reader that buffers r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReader(r)}
}

// ReadValue reads one complete reply. Error replies are returned as a Value
// of kind ErrorReply, not as a Go error; Go errors mean the stream is broken.
func (r *Reader) ReadValue() (Value, error) {
	return r.read(0)
}

func (r *Reader) read(depth int) (Value, error) {
	if depth > maxDepth {
		return Value{}, fmt.Errorf("%w: nesting deeper than %d", ErrProtocol, maxDepth)
	}
	line, err := r.line()
	if err != nil {
		return Value{}, err
	}
	if len(line) == 0 {
		return Value{}, fmt.Errorf("%w: empty line", ErrProtocol)
	}
	kind, body := Kind(line[0]), line[1:]
	switch kind {
	case SimpleString, ErrorReply:
		return Value{Kind: kind, Str: append([]byte(nil), body...)}, nil
	case Integer:
		n, err := parseInt(body)
		if err != nil {
			return Value{}, err
		}
		return Value{Kind: Integer, Int: n}, nil
	case BulkString:
		return r.bulk(body)
	case Array:
		return r.array(body, depth)
	}
	return Value{}, fmt.Errorf("%w: unknown reply type %q", ErrProtocol, line[0])
}

func (r *Reader) bulk(header []byte) (Value, error) {
	n, err := parseInt(header)
	if err != nil {
		return Value{}, err
	}
	if n == -1 {
		return Value{Kind: BulkString, Null: true}, nil
	}
	if n < 0 || n > maxBulkLen {
		return Value{}, fmt.Errorf("%w: bad bulk length %d", ErrProtocol, n)
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(r.br, buf); err != nil {
		return Value{}, noEOF(err)
	}
	if buf[n] != '\r' || buf[n+1] != '\n' {
		return Value{}, fmt.Errorf("%w: bulk string not terminated by CRLF", ErrProtocol)
	}
	return Value{Kind: BulkString, Str: buf[:n:n]}, nil
}

func (r *Reader) array(header []byte, depth int) (Value, error) {
	n, err := parseInt(header)
	if err != nil {
		return Value{}, err
	}
	if n == -1 {
		return Value{Kind: Array, Null: true}, nil
	}
	if n < 0 || n > maxArrayLen {
		return Value{}, fmt.Errorf("%w: bad array length %d", ErrProtocol, n)
	}
	// Grow as elements arrive rather than trusting the announced length.
	elems := make([]Value, 0, min(n, 64))
	for i := int64(0); i < n; i++ {
		v, err := r.read(depth + 1)
		if err != nil {
			return Value{}, err
		}
		elems = append(elems, v)
	}
	return Value{Kind: Array, Elems: elems}, nil
}

// line returns the next CRLF-terminated line without its terminator.
func (r *Reader) line() ([]byte, error) {
	var out []byte
	for {
		chunk, err := r.br.ReadSlice('\n')
		if err == nil || errors.Is(err, bufio.ErrBufferFull) {
			out = append(out, chunk...)
			if len(out) > maxLineBytes {
				return nil, fmt.Errorf("%w: line longer than %d bytes", ErrProtocol, maxLineBytes)
			}
			if err == nil {
				break
			}
			continue
		}
		if len(out)+len(chunk) > 0 {
			return nil, noEOF(err)
		}
		return nil, err
	}
	if len(out) < 2 || out[len(out)-2] != '\r' {
		return nil, fmt.Errorf("%w: line not terminated by CRLF", ErrProtocol)
	}
	return out[:len(out)-2], nil
}

func parseInt(b []byte) (int64, error) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: bad integer %q", ErrProtocol, b)
	}
	return n, nil
}

// noEOF turns an EOF in the middle of a reply into ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
