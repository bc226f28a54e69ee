package isolate

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// statusMessage turns what the init step reported into the error's text.
//
// The Go init step writes the text itself. The C one (package nsinit)
// leaves the formatting to the parent, so that quoting and errno texts are
// Go's: its message starts with a NUL byte, followed by NUL-ended fields:
// the errno in decimal (0 for none), a format whose verbs are %s and %q
// for the string arguments and a final %v for the errno, and the
// arguments.
func statusMessage(msg []byte) string {
	if len(msg) == 0 || msg[0] != 0 {
		return string(msg)
	}
	fields := strings.Split(string(bytes.TrimSuffix(msg[1:], []byte{0})), "\x00")
	if len(fields) < 2 {
		return "sandbox: malformed init status " + strconv.Quote(string(msg))
	}
	errno, err := strconv.Atoi(fields[0])
	if err != nil || errno < 0 {
		return "sandbox: malformed init status " + strconv.Quote(string(msg))
	}
	// A format and arguments that do not match show as fmt's %!
	// markers, never as a failure.
	format, strs := fields[1], fields[2:]
	args := make([]any, 0, len(strs)+1)
	for _, s := range strs {
		args = append(args, s)
	}
	if strings.Contains(format, "%v") {
		args = append(args, syscall.Errno(errno))
	}
	return fmt.Sprintf(format, args...)
}
