//go:build linux

package network

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// A netlink dump (of links, addresses or routes) is cut short when the
// table changes under it, which it does all the time on a host where
// pods come and go: the kernel flags the dump as interrupted (EINTR) or
// refuses it while busy (EBUSY). Both call for trying again.
func transient(err error) bool {
	return errors.Is(err, unix.EINTR) || errors.Is(err, unix.EBUSY)
}

// retryTransient runs fn until it succeeds, fails for another reason, or
// has been interrupted a few times in a row.
func retryTransient(fn func() error) error {
	const attempts = 8
	var err error
	for i := 0; i < attempts; i++ {
		if err = fn(); err == nil || !transient(err) {
			return err
		}
		time.Sleep(time.Duration(i+1) * 5 * time.Millisecond)
	}
	return err
}
