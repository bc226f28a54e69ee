package isolate

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// limitCapabilities confines the init step, and so the command it execs,
// to the capability set keep (bit n: capability n): bounding, effective
// and permitted sets to keep as far as they hold it, inheritable and
// ambient sets empty. It must come after every step that needs
// privileges. nsinit's caps.c does the same and reports the same errors.
func limitCapabilities(keep uint64) error {
	// Capabilities belong to a thread: the exec must come from this one.
	runtime.LockOSThread()
	// The bounding set first: dropping from it takes CAP_SETPCAP, which
	// the capset below may remove. The kernel's capabilities end where
	// PR_CAPBSET_READ says EINVAL.
	for c := 0; c < 64; c++ {
		r, _, errno := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0, 0)
		if errno == unix.EINVAL {
			break
		}
		if errno != 0 {
			return fmt.Errorf("sandbox: reading capability %d of the bounding set: %w", c, errno)
		}
		if r == 1 && keep&(1<<c) == 0 {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
				return fmt.Errorf("sandbox: dropping capability %d from the bounding set: %w", c, err)
			}
		}
	}
	// Kernels before 4.3 have no ambient set to clear.
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("sandbox: clearing the ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("sandbox: reading capabilities: %w", err)
	}
	// What the supervisor does not hold cannot be granted; capabilities
	// this kernel lacks are ignored, as runc does.
	for i := range data {
		set := uint32(keep>>(32*i)) & data[i].Permitted
		data[i] = unix.CapUserData{Effective: set, Permitted: set}
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("sandbox: setting capabilities: %w", err)
	}
	return nil
}
