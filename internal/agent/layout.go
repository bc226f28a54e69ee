package agent

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// Layout under DataDir, which survives a reboot:
//
//	pods/<uid>/                         present while the pod is on the node
//	pods/<uid>/<container>/<n>.log      attempt n's log
//	pods/<uid>/sandbox/volumes/         the pod's volumes
//	pods/<uid>/tmp.<container>-<n>/     attempt n's private /tmp
//
// and under RunDir, which a reboot may empty:
//
//	pods/<uid>/sandbox/                 the runtime's sandbox directory: /etc files
//	pods/<uid>/<container>/<n>/         the runtime's state for attempt n
//
// An attempt whose log is left but whose state is gone ran before the
// node restarted; it is reported as lost, not run again.
func (a *Agent) podDir(uid types.UID) string {
	return filepath.Join(a.cfg.DataDir, "pods", string(uid))
}

func (a *Agent) podRunDir(uid types.UID) string {
	return filepath.Join(a.cfg.RunDir, "pods", string(uid))
}

func attemptDir(podRunDir, container string, n int) string {
	return filepath.Join(podRunDir, container, strconv.Itoa(n))
}

func attemptLog(podDir, container string, n int) string {
	return filepath.Join(podDir, container, strconv.Itoa(n)+".log")
}

// attemptRecord is what is left of one attempt of a container.
type attemptRecord struct {
	n int
	// stateDir is the runtime's state of the attempt; empty when only
	// its log is left.
	stateDir string
}

// attemptsOf lists the attempts recorded for a container, in increasing
// order: state in the run dir, state an agent of an earlier layout kept
// in the data dir, and logs without state.
func attemptsOf(podDir, podRunDir, container string) []attemptRecord {
	found := map[int]string{}
	for _, dir := range []string{podDir, podRunDir} {
		entries, err := os.ReadDir(filepath.Join(dir, container))
		if err != nil {
			continue
		}
		for _, e := range entries {
			// Attempts are directories n, logs are files n.log.
			name, isLog := strings.CutSuffix(e.Name(), ".log")
			if isLog == e.IsDir() {
				continue
			}
			n, err := strconv.Atoi(name)
			if err != nil || n < 0 {
				continue
			}
			if e.IsDir() {
				found[n] = filepath.Join(dir, container, name)
			} else if _, ok := found[n]; !ok {
				found[n] = ""
			}
		}
	}
	out := make([]attemptRecord, 0, len(found))
	for n, dir := range found {
		out = append(out, attemptRecord{n: n, stateDir: dir})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n < out[j].n })
	return out
}

// podDirSet knows which pods may have directories on the node: those
// listed when the agent started, and those it has made directories for
// since. A pod outside it is new to the node, with no attempt of an
// earlier agent to re-adopt, and its worker need not look for any: two
// failed opens per container saved on each new pod.
type podDirSet struct {
	mu sync.Mutex
	// listed is set once the listing succeeded; without it every pod
	// may have directories.
	listed bool
	uids   map[types.UID]struct{}
}

// list records the pods that have directories under the given pods
// directories.
func (s *podDirSet) list(roots ...string) error {
	uids := map[types.UID]struct{}{}
	for _, root := range roots {
		names, err := readDirNames(root)
		if err != nil {
			return fmt.Errorf("listing pod directories: %w", err)
		}
		for _, n := range names {
			uids[types.UID(n)] = struct{}{}
		}
	}
	s.mu.Lock()
	s.listed, s.uids = true, uids
	s.mu.Unlock()
	return nil
}

// add records that uid's directories are about to be made.
func (s *podDirSet) add(uid types.UID) {
	s.mu.Lock()
	if s.listed {
		s.uids[uid] = struct{}{}
	}
	s.mu.Unlock()
}

// remove records that uid's directories are gone.
func (s *podDirSet) remove(uid types.UID) {
	s.mu.Lock()
	delete(s.uids, uid)
	s.mu.Unlock()
}

// mayExist reports whether uid may have directories.
func (s *podDirSet) mayExist(uid types.UID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.listed {
		return true
	}
	_, ok := s.uids[uid]
	return ok
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
