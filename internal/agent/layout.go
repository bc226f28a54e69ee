package agent

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"k8s.io/apimachinery/pkg/types"
)

// On-disk layout under DataDir:
//
//	pods/<uid>/sandbox/                 the runtime's sandbox directory
//	pods/<uid>/<container>/<n>/         the runtime's state for attempt n
//	pods/<uid>/<container>/<n>.log      that attempt's log
func (a *Agent) podDir(uid types.UID) string {
	return filepath.Join(a.cfg.DataDir, "pods", string(uid))
}

func attemptDir(podDir, container string, n int) string {
	return filepath.Join(podDir, container, strconv.Itoa(n))
}

func attemptLog(podDir, container string, n int) string {
	return filepath.Join(podDir, container, strconv.Itoa(n)+".log")
}

// attemptsOnDisk lists the attempt numbers recorded for a container, in
// increasing order.
func attemptsOnDisk(podDir, container string) []int {
	entries, err := os.ReadDir(filepath.Join(podDir, container))
	if err != nil {
		return nil
	}
	var ns []int
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if n, err := strconv.Atoi(e.Name()); err == nil && n >= 0 {
			ns = append(ns, n)
		}
	}
	sort.Ints(ns)
	return ns
}

func newContainerID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// removeIfExists removes path; that it is already gone is no error.
func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
