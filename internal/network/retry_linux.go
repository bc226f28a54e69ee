//go:build linux

package network

import (
	"errors"
	"fmt"
	"time"

	"github.com/vishvananda/netlink"
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

// withFreshHandle runs fn, which dumps tables, on a netlink handle of its
// own, and again on a new one while the dump is cut short. The rest of an
// interrupted dump stays pending in its socket, and the kernel refuses
// every later dump there (EBUSY): a handle that saw one is never reused.
func withFreshHandle(open func() (*netlink.Handle, error), fn func(h *netlink.Handle) error) error {
	return retryTransient(func() error {
		h, err := open()
		if err != nil {
			return fmt.Errorf("netlink: %w", err)
		}
		defer h.Close()
		return fn(h)
	})
}
