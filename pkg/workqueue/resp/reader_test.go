package resp

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestReadValue(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Value
	}{
		{"simple", "+OK\r\n", Value{Kind: SimpleString, Str: []byte("OK")}},
		{"error", "-ERR unknown\r\n", Value{Kind: ErrorReply, Str: []byte("ERR unknown")}},
		{"integer", ":42\r\n", Value{Kind: Integer, Int: 42}},
		{"negative integer", ":-7\r\n", Value{Kind: Integer, Int: -7}},
		{"bulk", "$5\r\nhello\r\n", Value{Kind: BulkString, Str: []byte("hello")}},
		{"empty bulk", "$0\r\n\r\n", Value{Kind: BulkString, Str: []byte{}}},
		{"binary bulk", "$4\r\na\r\n\x00\r\n", Value{Kind: BulkString, Str: []byte("a\r\n\x00")}},
		{"null bulk", "$-1\r\n", Value{Kind: BulkString, Null: true}},
		{"null array", "*-1\r\n", Value{Kind: Array, Null: true}},
		{"empty array", "*0\r\n", Value{Kind: Array, Elems: []Value{}}},
		{"nested array", "*2\r\n:1\r\n*1\r\n$1\r\nx\r\n", Value{Kind: Array, Elems: []Value{
			{Kind: Integer, Int: 1},
			{Kind: Array, Elems: []Value{{Kind: BulkString, Str: []byte("x")}}},
		}}},
		{"array with null", "*2\r\n$-1\r\n+a\r\n", Value{Kind: Array, Elems: []Value{
			{Kind: BulkString, Null: true},
			{Kind: SimpleString, Str: []byte("a")},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewReader(strings.NewReader(tt.in)).ReadValue()
			if err != nil {
				t.Fatalf("ReadValue(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ReadValue(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestReadValueMalformed(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr error
	}{
		{"unknown type", "!oops\r\n", ErrProtocol},
		{"empty line", "\r\n", ErrProtocol},
		{"no CR", "+OK\n", ErrProtocol},
		{"bad integer", ":12a\r\n", ErrProtocol},
		{"bad bulk length", "$x\r\n", ErrProtocol},
		{"negative bulk length", "$-2\r\n", ErrProtocol},
		{"huge bulk length", "$99999999999\r\n", ErrProtocol},
		{"bulk missing CRLF", "$3\r\nabcde\r\n", ErrProtocol},
		{"negative array length", "*-5\r\n", ErrProtocol},
		{"huge array length", "*999999999999\r\n", ErrProtocol},
		{"truncated bulk", "$10\r\nabc", io.ErrUnexpectedEOF},
		{"truncated line", "+OK", io.ErrUnexpectedEOF},
		{"truncated array", "*3\r\n:1\r\n", io.EOF},
		{"nothing", "", io.EOF},
		{"too deep", strings.Repeat("*1\r\n", maxDepth+2) + ":1\r\n", ErrProtocol},
		{"line too long", "+" + strings.Repeat("a", maxLineBytes+10) + "\r\n", ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(tt.in)).ReadValue()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ReadValue(%.40q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestReadValueSequence(t *testing.T) {
	r := NewReader(strings.NewReader("+a\r\n:2\r\n$1\r\nc\r\n"))
	for i, want := range []Kind{SimpleString, Integer, BulkString} {
		v, err := r.ReadValue()
		if err != nil || v.Kind != want {
			t.Fatalf("reply %d = %v, %v; want kind %v", i, v, err, want)
		}
	}
	if _, err := r.ReadValue(); err != io.EOF {
		t.Fatalf("after last reply: err = %v, want io.EOF", err)
	}
}

func TestAppendCommand(t *testing.T) {
	got, err := AppendCommand(nil, "SET", []byte("k\r\n"), 5, int64(-1))
	if err != nil {
		t.Fatal(err)
	}
	want := "*4\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$1\r\n5\r\n$2\r\n-1\r\n"
	if string(got) != want {
		t.Fatalf("AppendCommand = %q, want %q", got, want)
	}
	if _, err := AppendCommand(nil, "SET", 1.5); err == nil {
		t.Fatal("AppendCommand accepted a float64 argument")
	}
	// What we encode, we decode as an array of the same bulk strings.
	v, err := NewReader(bytes.NewReader(got)).ReadValue()
	if err != nil || len(v.Elems) != 4 || string(v.Elems[1].Str) != "k\r\n" {
		t.Fatalf("round trip = %#v, %v", v, err)
	}
}

func TestValueAccessors(t *testing.T) {
	if n, err := (Value{Kind: BulkString, Str: []byte("12")}).Int64(); err != nil || n != 12 {
		t.Errorf("Int64 of bulk \"12\" = %d, %v", n, err)
	}
	if _, err := (Value{Kind: Array}).Int64(); err == nil {
		t.Error("Int64 of an array did not fail")
	}
	if b, err := (Value{Kind: BulkString, Null: true}).Bytes(); err != nil || b != nil {
		t.Errorf("Bytes of null = %q, %v", b, err)
	}
	if _, err := (Value{Kind: Integer}).Bytes(); err == nil {
		t.Error("Bytes of an integer did not fail")
	}
	if p := Error("NOSCRIPT No matching script").Prefix(); p != "NOSCRIPT" {
		t.Errorf("Prefix = %q", p)
	}
}
