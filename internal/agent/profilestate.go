package agent

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// profileStatePrefix starts the name of each server profile
	// container's private state directory.
	profileStatePrefix = "c."
	// profileStateLock is the file in it that the supervisor and the
	// server hold locked while they live.
	profileStateLock = ".lock"
	// profileStateGrace is how long a directory without a lock file is
	// left alone: its supervisor may be about to lock it.
	profileStateGrace = time.Minute
)

// pruneProfileState removes the state directories under
// <dataDir>/profiles/*/ whose lock nobody holds: their container was
// killed before its supervisor could remove them.
func pruneProfileState(dataDir string, now time.Time) {
	bases, err := filepath.Glob(filepath.Join(dataDir, "profiles", "*"))
	if err != nil {
		return
	}
	for _, base := range bases {
		entries, err := os.ReadDir(base)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !e.IsDir() || !strings.HasPrefix(e.Name(), profileStatePrefix) {
				continue
			}
			dir := filepath.Join(base, e.Name())
			if !abandoned(dir, now) {
				continue
			}
			if err := os.RemoveAll(dir); err != nil {
				slog.Warn("removing abandoned profile state", "dir", dir, "err", err)
			}
		}
	}
}

// abandoned reports whether no live process holds dir's lock.
func abandoned(dir string, now time.Time) bool {
	f, err := os.Open(filepath.Join(dir, profileStateLock))
	if errors.Is(err, os.ErrNotExist) {
		fi, err := os.Stat(dir)
		return err == nil && now.Sub(fi.ModTime()) > profileStateGrace
	}
	if err != nil {
		return false
	}
	defer f.Close()
	// Taking the lock proves nobody holds it; closing f releases it.
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
}
