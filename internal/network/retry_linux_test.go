//go:build linux

package network

import (
	"errors"
	"fmt"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestInterruptedDumpMovesToAFreshHandle: after a dump is cut short
// (EINTR) or refused (EBUSY), the next attempt runs on a new handle;
// other errors end the attempts at once.
func TestInterruptedDumpMovesToAFreshHandle(t *testing.T) {
	var opened []*netlink.Handle
	open := func() (*netlink.Handle, error) {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err == nil {
			opened = append(opened, h)
		}
		return h, err
	}
	var used []*netlink.Handle
	failures := []error{unix.EINTR, fmt.Errorf("listing routes: %w", unix.EBUSY)}
	err := withFreshHandle(open, func(h *netlink.Handle) error {
		used = append(used, h)
		if len(used) <= len(failures) {
			return failures[len(used)-1]
		}
		_, err := h.LinkList()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The real dump at the end may itself be cut short on a busy host.
	if len(used) < 3 {
		t.Fatalf("%d attempts, want the two failures and a success", len(used))
	}
	seen := map[*netlink.Handle]bool{}
	for _, h := range used {
		if seen[h] {
			t.Fatalf("a handle was used for a second attempt")
		}
		seen[h] = true
	}
	if len(opened) != len(used) {
		t.Fatalf("opened %d handles for %d attempts, want one per attempt", len(opened), len(used))
	}

	calls := 0
	permanent := errors.New("no such bridge")
	if err := withFreshHandle(open, func(*netlink.Handle) error { calls++; return permanent }); !errors.Is(err, permanent) || calls != 1 {
		t.Fatalf("a lasting error: %v after %d attempts, want it after one", err, calls)
	}
}
