package resp

import (
	"bytes"
	"reflect"
	"strconv"
	"testing"
)

// FuzzReadValue checks that no input panics or hangs the parser, and that
// every value it accepts survives an encode/decode round trip unchanged.
func FuzzReadValue(f *testing.F) {
	for _, s := range []string{"+OK\r\n", "-ERR x\r\n", ":1\r\n", "$3\r\nabc\r\n",
		"$-1\r\n", "*2\r\n:1\r\n$1\r\na\r\n", "*-1\r\n", "*1\r\n*1\r\n*0\r\n", "$5\r\nab"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := NewReader(bytes.NewReader(in)).ReadValue()
		if err != nil {
			return
		}
		out := encode(nil, v)
		again, err := NewReader(bytes.NewReader(out)).ReadValue()
		if err != nil {
			t.Fatalf("decoded %q to %#v; its encoding %q does not decode: %v", in, v, out, err)
		}
		if !reflect.DeepEqual(normalize(v), normalize(again)) {
			t.Fatalf("round trip of %q: %#v became %#v", in, v, again)
		}
	})
}

// normalize makes empty and nil slices compare equal.
func normalize(v Value) Value {
	if len(v.Str) == 0 {
		v.Str = nil
	}
	if len(v.Elems) == 0 {
		v.Elems = nil
	}
	for i := range v.Elems {
		v.Elems[i] = normalize(v.Elems[i])
	}
	return v
}

func encode(dst []byte, v Value) []byte {
	dst = append(dst, byte(v.Kind))
	switch {
	case v.Null:
		return append(dst, "-1\r\n"...)
	case v.Kind == Integer:
		return append(strconv.AppendInt(dst, v.Int, 10), '\r', '\n')
	case v.Kind == BulkString:
		dst = append(strconv.AppendInt(dst, int64(len(v.Str)), 10), '\r', '\n')
		return append(append(dst, v.Str...), '\r', '\n')
	case v.Kind == Array:
		dst = append(strconv.AppendInt(dst, int64(len(v.Elems)), 10), '\r', '\n')
		for _, e := range v.Elems {
			dst = encode(dst, e)
		}
		return dst
	}
	return append(append(dst, v.Str...), '\r', '\n')
}
