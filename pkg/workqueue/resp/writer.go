package resp

import (
	"fmt"
	"strconv"
)

// AppendCommand encodes a command as a RESP array of bulk strings. Arguments
// may be string, []byte, integers, or fmt.Stringer; anything else is an error
// so that a typo never sends a Go-formatted value to the server.
func AppendCommand(dst []byte, args ...any) ([]byte, error) {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(len(args)), 10)
	dst = append(dst, '\r', '\n')
	for i, a := range args {
		var b []byte
		switch v := a.(type) {
		case string:
			b = []byte(v)
		case []byte:
			b = v
		case int:
			b = strconv.AppendInt(nil, int64(v), 10)
		case int64:
			b = strconv.AppendInt(nil, v, 10)
		case uint64:
			b = strconv.AppendUint(nil, v, 10)
		case fmt.Stringer:
			b = []byte(v.String())
		default:
			return nil, fmt.Errorf("resp: argument %d has unsupported type %T", i, a)
		}
		dst = append(dst, '$')
		dst = strconv.AppendInt(dst, int64(len(b)), 10)
		dst = append(dst, '\r', '\n')
		dst = append(dst, b...)
		dst = append(dst, '\r', '\n')
	}
	return dst, nil
}
