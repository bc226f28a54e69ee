//go:build linux

package network

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/batchlet/batchlet/internal/fsutil"
)

// makeNamespaceDir creates the node's namespace directory and records its
// owner. Where /run is on disk, a directory that holds nothing yet gets a
// tmpfs of its own: every pod's start and end create, rename or remove a
// file there, which a disk file system does at several times the CPU
// cost, more while the runtime writes to it too. A directory that holds
// namespaces already is left as it is: a mount would hide them.
func makeNamespaceDir(dir, owner string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if !fsutil.InMemory(dir) && holdsOnlyOwner(dir) {
		if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0750"); err != nil {
			slog.Debug("pod namespace files stay on disk", "dir", dir, "err", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(owner), 0o640); err != nil {
		return fmt.Errorf("recording the owner of %s: %w", dir, err)
	}
	return nil
}

// holdsOnlyOwner reports whether dir holds nothing but, perhaps, its
// owner record.
func holdsOnlyOwner(dir string) bool {
	entries, err := os.ReadDir(dir)
	return err == nil && (len(entries) == 0 || len(entries) == 1 && entries[0].Name() == ownerFile)
}

// removeNamespaceDir unmounts dir's tmpfs, when it has one, and removes
// dir.
func removeNamespaceDir(dir string) error {
	for {
		err := unix.Unmount(dir, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			break
		}
		if err != nil {
			return fmt.Errorf("unmounting %s: %w", dir, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return nil
}

// sweepStale removes what nodes whose state directory is gone left on
// this host: their pods' namespaces (and with them the veth pairs) and
// their bridges.
func sweepStale(h *netlink.Handle) error {
	var errs []error
	entries, err := os.ReadDir(RunDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("reading %s: %w", RunDir, err))
	}
	for _, e := range entries {
		dir := filepath.Join(RunDir, e.Name())
		owner, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil || !staleOwner(strings.TrimSpace(string(owner))) {
			continue
		}
		files, _ := os.ReadDir(dir)
		for _, f := range files {
			// Directories hold address records, which
			// removeNamespaceDir takes along.
			if f.Name() != ownerFile && !f.IsDir() {
				if err := unmountNamespace(filepath.Join(dir, f.Name())); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if err := removeNamespaceDir(dir); err != nil {
			errs = append(errs, err)
		}
	}
	links, err := h.LinkList()
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("listing links: %w", err))...)
	}
	stale := map[int]bool{}
	for _, l := range links {
		if l.Type() == "bridge" && staleOwner(l.Attrs().Alias) {
			stale[l.Attrs().Index] = true
		}
	}
	// The ports first: a veth whose namespace is gone goes by itself, but
	// only once the kernel has cleaned the namespace up.
	for _, l := range links {
		if stale[l.Attrs().MasterIndex] {
			if err := h.LinkDel(l); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("removing stale veth %s: %w", l.Attrs().Name, err))
			}
		}
	}
	for _, l := range links {
		if stale[l.Attrs().Index] {
			if err := h.LinkDel(l); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("removing stale bridge %s: %w", l.Attrs().Name, err))
			}
		}
	}
	return errors.Join(errs...)
}
