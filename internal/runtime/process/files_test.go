package process

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestFileHelpers(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789"), 1000)
	for _, data := range [][]byte{big, []byte("small"), {}} {
		if err := writeFile(dir, "f.json", data); err != nil {
			t.Fatal(err)
		}
		got, err := readFile(filepath.Join(dir, "f.json"))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes (%v), wrote %d", len(got), err, len(data))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".f.json.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file left behind: %v", err)
	}
	if _, err := readFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("reading a missing file: %v, want ErrNotExist", err)
	}
	if err := writeFile(filepath.Join(dir, "missing"), "f", nil); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("writing into a missing directory: %v, want ErrNotExist", err)
	}

	claim := filepath.Join(dir, "claim")
	if err := createExclusive(claim, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := createExclusive(claim, 0o600); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second exclusive create: %v, want ErrExist", err)
	}
}

// TestPipes: the supervisor's end of a container's pipe is in the poller,
// the container's end blocks as programs expect.
func TestPipes(t *testing.T) {
	nonblocking := func(f *os.File) bool {
		t.Helper()
		rc, err := f.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var flags int
		var ferr error
		if err := rc.Control(func(fd uintptr) { flags, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0) }); err != nil || ferr != nil {
			t.Fatal(err, ferr)
		}
		return flags&unix.O_NONBLOCK != 0
	}
	r, w, err := pipe()
	if err != nil {
		t.Fatal(err)
	}
	if !nonblocking(r) || nonblocking(w) {
		t.Fatalf("output pipe: read end non-blocking %v, write end %v", nonblocking(r), nonblocking(w))
	}
	if _, err := w.Write([]byte("out")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if got, err := io.ReadAll(r); err != nil || string(got) != "out" {
		t.Fatalf("read %q, %v", got, err)
	}
	r.Close()

	r, w, err = inputPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if nonblocking(r) || !nonblocking(w) {
		t.Fatalf("input pipe: read end non-blocking %v, write end %v", nonblocking(r), nonblocking(w))
	}
	null, err := devNull()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := devNull(); again != null {
		t.Fatal("a /dev/null per call")
	}
}

func TestFrames(t *testing.T) {
	var b bytes.Buffer
	fw := &frameWriter{w: &b}
	big := bytes.Repeat([]byte{7}, oneWriteFrame+10)
	if err := fw.write(supFrameState, []byte("state")); err != nil {
		t.Fatal(err)
	}
	if err := fw.write(frameStdout, big); err != nil {
		t.Fatal(err)
	}
	if err := fw.writeTagged(supFrameExit, 1<<40+5, []byte("exit")); err != nil {
		t.Fatal(err)
	}
	if err := fw.write(supFrameUnknown, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		kind byte
		p    []byte
	}{
		{supFrameState, []byte("state")},
		{frameStdout, big},
		{supFrameExit, append([]byte{0, 0, 1, 0, 0, 0, 0, 5}, "exit"...)},
		{supFrameUnknown, []byte{}},
	} {
		kind, p, err := readFrame(&b)
		if err != nil || kind != want.kind || !bytes.Equal(p, want.p) {
			t.Fatalf("frame %d of %d bytes (%v), want %d of %d", kind, len(p), err, want.kind, len(want.p))
		}
	}
	if err := fw.writeTagged(supFrameRequest, 1, make([]byte, maxFrame)); err == nil {
		t.Fatal("an oversized tagged frame was written")
	}
}

// TestSupervisorKeyUnchanged: the key, which names the socket a
// restarted agent finds its supervisor by, is made as it always was.
func TestSupervisorKeyUnchanged(t *testing.T) {
	r := newRuntime(t)
	fi, err := os.Stat(r.shim[0])
	if err != nil {
		t.Fatal(err)
	}
	h := fnv.New64a()
	for _, a := range r.shim {
		_, _ = io.WriteString(h, a+"\x00")
	}
	st := fi.Sys().(*syscall.Stat_t)
	_, _ = fmt.Fprintf(h, "%d:%d:", st.Dev, st.Ino)
	_, _ = fmt.Fprintf(h, "%d:%d", fi.Size(), fi.ModTime().UnixNano())
	want := strconv.FormatUint(h.Sum64(), 16)
	for range 2 {
		if got, err := r.supervisorKey(); err != nil || got != want {
			t.Fatalf("key %q (%v), want %q", got, err, want)
		}
	}
}
