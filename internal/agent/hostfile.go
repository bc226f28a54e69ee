package agent

import (
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// hostResolvConfPath is the host's resolver configuration, which each
// pod's resolv.conf is rendered from.
const hostResolvConfPath = "/etc/resolv.conf"

// hostFileSettle is how old a file's last change must be before its
// content is kept. A change leaves the file's identity unchanged only if
// it falls in the same tick of the file system's clock as the one before
// and keeps the size; a file changed less than this ago may still be
// changed so, and is read again each time. File systems keep times to a
// few milliseconds, the coarsest (FAT) to two seconds.
const hostFileSettle = 2 * time.Second

// hostFile is a host file every pod's set-up reads (the host's
// resolv.conf), read again only when it changed: a stat costs a fraction
// of opening, reading and closing it, and the file changes seldom. It
// counts as changed when its device, inode, size, modification or change
// time differ: replaced (by a rename, a new symlink target or a mount)
// or written to. The change time cannot be set by a user, so a file put
// back with its old modification time still differs.
type hostFile struct {
	path string
	// now is the clock the settling is measured with; nil is time.Now.
	now func() time.Time

	mu   sync.Mutex
	kept bool
	id   fileID
	data []byte
}

// fileID is what tells one state of a file from another.
type fileID struct {
	dev, ino     uint64
	size         int64
	mtime, ctime unix.Timespec
}

func idOf(st *unix.Stat_t) fileID {
	return fileID{dev: st.Dev, ino: st.Ino, size: st.Size, mtime: st.Mtim, ctime: st.Ctim}
}

// read returns the file's content, as os.ReadFile's with its error
// ignored: nil for a missing file. The content is shared between callers,
// which must not change it.
func (f *hostFile) read() []byte {
	now := time.Now
	if f.now != nil {
		now = f.now
	}
	// The clock first: what is kept changed before this moment.
	start := now()
	var st unix.Stat_t
	if err := unix.Stat(f.path, &st); err != nil {
		// What cannot be looked up cannot be opened either.
		return nil
	}
	id := idOf(&st)
	f.mu.Lock()
	if f.kept && f.id == id {
		data := f.data
		f.mu.Unlock()
		return data
	}
	f.mu.Unlock()
	// Read after the stat, so that the content kept is at least as new as
	// the identity it is kept under: a change in between makes the next
	// stat differ, and the file is read again.
	data, err := os.ReadFile(f.path)
	settled := time.Unix(st.Ctim.Unix()).Before(start.Add(-hostFileSettle))
	f.mu.Lock()
	f.kept = err == nil && settled
	f.id, f.data = id, data
	f.mu.Unlock()
	return data
}
