package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/batchlet/batchlet/internal/fsutil"
)

// volatileBase is where agents keep what a reboot may lose: the runtime's
// attempt state and the pods' /etc files. Each container start writes
// about a dozen small files there; on a tmpfs that costs a tenth of what
// it costs on a disk file system. Logs, volumes and private /tmp
// directories stay in the data dir.
const volatileBase = "/run/batchlet/volatile"

// dataDirFile names, in each agent's volatile directory, the data dir it
// belongs to, so that the directories of removed data dirs can be pruned.
const dataDirFile = "datadir"

// DefaultRunDir is the run dir an agent of dataDir uses when its Config
// names none.
func DefaultRunDir(dataDir string) string { return volatileDir(dataDir) }

// volatileDir returns the volatile directory of the agent of dataDir: a
// directory of its own on a tmpfs at volatileBase (mounted there when
// /run is no tmpfs), or dataDir/run when no tmpfs can be had.
func volatileDir(dataDir string) string {
	dir, err := tmpfsDir(dataDir)
	if err != nil {
		fallback := filepath.Join(dataDir, "run")
		slog.Debug("pod state stays on the data dir's file system", "dir", fallback, "err", err)
		return fallback
	}
	return dir
}

func tmpfsDir(dataDir string) (string, error) {
	if err := os.MkdirAll(volatileBase, 0o700); err != nil {
		return "", err
	}
	// Agents starting at the same time must not mount twice: the second
	// mount would hide what the first agent already put there.
	lock, err := os.OpenFile(volatileBase+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	if !fsutil.InMemory(volatileBase) {
		if err := unix.Mount("tmpfs", volatileBase, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0700"); err != nil {
			return "", fmt.Errorf("mounting a tmpfs at %s: %w", volatileBase, err)
		}
	}
	pruneVolatileDirs()
	sum := sha256.Sum256([]byte(dataDir))
	dir := filepath.Join(volatileBase, hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, dataDirFile), []byte(dataDir), 0o600); err != nil {
		return "", err
	}
	return dir, nil
}

// pruneVolatileDirs removes the volatile directories whose data dir is
// gone: their agent cannot come back for them. Running containers keep
// the /etc files bound into them.
func pruneVolatileDirs() {
	entries, err := os.ReadDir(volatileBase)
	if err != nil {
		return
	}
	for _, e := range entries {
		dir := filepath.Join(volatileBase, e.Name())
		owner, err := os.ReadFile(filepath.Join(dir, dataDirFile))
		if err != nil {
			continue
		}
		if _, err := os.Stat(strings.TrimSpace(string(owner))); errors.Is(err, os.ErrNotExist) {
			if err := os.RemoveAll(dir); err != nil {
				slog.Warn("removing the pod state of a removed data dir", "dir", dir, "err", err)
			}
		}
	}
}
