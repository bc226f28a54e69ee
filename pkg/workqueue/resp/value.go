// Package resp is a small client for the Redis serialization protocol
// (RESP2): enough to issue commands, run Lua scripts and wait on blocking
// list operations, with reconnection after a broken connection.
package resp

import (
	"fmt"
	"strconv"
)

// Kind is the type of a RESP2 reply.
type Kind byte

// The RESP2 reply types, named by their leading byte.
const (
	SimpleString Kind = '+'
	ErrorReply   Kind = '-'
	Integer      Kind = ':'
	BulkString   Kind = '$'
	Array        Kind = '*'
)

// Value is one decoded reply. A null bulk string or null array has Null set.
type Value struct {
	Kind  Kind
	Null  bool
	Str   []byte  // SimpleString, ErrorReply and BulkString
	Int   int64   // Integer
	Elems []Value // Array
}

// Error is an error reply sent by the server. The connection that carried it
// is still usable.
type Error string

func (e Error) Error() string { return string(e) }

// Prefix returns the error code, the first word of the message ("NOSCRIPT").
func (e Error) Prefix() string {
	for i := 0; i < len(e); i++ {
		if e[i] == ' ' {
			return string(e[:i])
		}
	}
	return string(e)
}

// IsNull reports whether v is a null bulk string or null array.
func (v Value) IsNull() bool { return v.Null }

// Bytes returns the payload of a string reply; nil for a null reply.
func (v Value) Bytes() ([]byte, error) {
	switch {
	case v.Null:
		return nil, nil
	case v.Kind == BulkString || v.Kind == SimpleString:
		return v.Str, nil
	}
	return nil, fmt.Errorf("resp: expected a string reply, got %s", v.Kind)
}

// Int64 returns the value of an integer reply, or of a string reply holding
// a decimal integer.
func (v Value) Int64() (int64, error) {
	switch v.Kind {
	case Integer:
		return v.Int, nil
	case BulkString, SimpleString:
		if !v.Null {
			n, err := strconv.ParseInt(string(v.Str), 10, 64)
			if err == nil {
				return n, nil
			}
		}
	}
	return 0, fmt.Errorf("resp: expected an integer reply, got %s", v.Kind)
}

func (k Kind) String() string {
	switch k {
	case SimpleString:
		return "simple string"
	case ErrorReply:
		return "error"
	case Integer:
		return "integer"
	case BulkString:
		return "bulk string"
	case Array:
		return "array"
	}
	return fmt.Sprintf("kind(%q)", byte(k))
}
