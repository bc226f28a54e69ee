package isolate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// How a missing mount target is created without touching the host:
//
// The first time a target is missing, the container's root is rebuilt on
// a tmpfs: a tmpfs is mounted on the (private) scratch directory, the
// process pivots into it, and every top-level entry of the old root is
// bound back into it (directories recursively, files onto empty files,
// symlinks recreated). The result looks like the host, every existing
// path still leads to the host's files, but "/" itself is a private
// tmpfs, so /input can simply be made there.
//
// A missing target deeper down (/data/x where only /data exists) gets the
// same treatment one level lower: a tmpfs that mirrors /data the same way
// is moved over /data, and x is made in it. Directories made this way are
// tmpfs-backed and vanish with the namespace; the host sees none of it.
const (
	oldRootName = ".sandbox-oldroot"
	stageDir    = "/.sandbox-stage"
)

type viewBuilder struct {
	// owned are the devices of the tmpfs mounts made here, where entries
	// may be created freely.
	owned  map[uint64]bool
	stages int
}

// buildView makes the mounts of sp, creating missing targets privately.
func buildView(sp *Spec) error {
	mounts := append([]Mount(nil), sp.Mounts...)
	sort.SliceStable(mounts, func(i, j int) bool { return depth(mounts[i].Target) < depth(mounts[j].Target) })
	var missing []Mount
	for _, m := range mounts {
		if _, err := os.Stat(m.Target); errors.Is(err, os.ErrNotExist) {
			missing = append(missing, m)
		} else if err != nil {
			return fmt.Errorf("sandbox: checking mount target %q: %w", m.Target, err)
		}
	}
	var v *viewBuilder
	if len(missing) > 0 {
		if sp.ScratchDir == "" {
			return fmt.Errorf("sandbox: mount target %q does not exist and no scratch directory was given", missing[0].Target)
		}
		v = &viewBuilder{owned: map[uint64]bool{}}
		if err := v.pivotToMirror(sp.ScratchDir); err != nil {
			return err
		}
	}
	// Sources are held open before anything is mounted over them: an
	// earlier mount (a private /tmp) may cover the path of a later one's
	// source (a volume in a data dir under /tmp). After the pivot, so that
	// they are in the new root's mounts.
	sources := make([]string, len(mounts))
	for i, m := range mounts {
		fd, err := unix.Open(m.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("sandbox: mounting %q at %q: %w", m.Source, m.Target, err)
		}
		defer unix.Close(fd)
		sources[i] = "/proc/self/fd/" + strconv.Itoa(fd)
	}
	if v != nil {
		for _, m := range missing {
			if err := v.create(m); err != nil {
				return err
			}
		}
		_ = os.Remove(stageDir)
	}
	for i, m := range mounts {
		if err := bind(m, sources[i]); err != nil {
			return err
		}
	}
	return nil
}

func depth(p string) int { return strings.Count(filepath.Clean(p), "/") }

// pivotToMirror makes "/" a private tmpfs that mirrors the host's root.
func (v *viewBuilder) pivotToMirror(scratch string) error {
	cwd, _ := os.Getwd()
	// Made only now: most containers never need it.
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return fmt.Errorf("sandbox: creating scratch directory %s: %w", scratch, err)
	}
	if err := unix.Mount("tmpfs", scratch, "tmpfs", 0, "mode=0755"); err != nil {
		return fmt.Errorf("sandbox: mounting scratch tmpfs: %w", err)
	}
	if err := os.Mkdir(filepath.Join(scratch, oldRootName), 0o700); err != nil {
		return fmt.Errorf("sandbox: preparing pivot: %w", err)
	}
	if err := unix.PivotRoot(scratch, filepath.Join(scratch, oldRootName)); err != nil {
		return fmt.Errorf("sandbox: pivot_root: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return fmt.Errorf("sandbox: entering new root: %w", err)
	}
	old := "/" + oldRootName
	// /proc is already the PID namespace's own, mounted over the host's
	// in this private mount namespace; the recursive bind carries it.
	if err := mirror(old, "/", nil); err != nil {
		return err
	}
	if err := unix.Unmount(old, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("sandbox: detaching old root: %w", err)
	}
	if err := os.Remove(old); err != nil {
		return fmt.Errorf("sandbox: removing old root: %w", err)
	}
	dev, err := deviceOf("/")
	if err != nil {
		return err
	}
	v.owned[dev] = true
	if cwd != "" {
		_ = os.Chdir(cwd)
	}
	return nil
}

// mirror recreates each entry of from in to, bound to the original.
func mirror(from, to string, skipBind map[string]bool) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return fmt.Errorf("sandbox: reading %s: %w", from, err)
	}
	for _, e := range entries {
		src, dst := filepath.Join(from, e.Name()), filepath.Join(to, e.Name())
		info, err := os.Lstat(src)
		if err != nil {
			continue // gone meanwhile
		}
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(src)
			if err != nil {
				return fmt.Errorf("sandbox: reading link %s: %w", src, err)
			}
			if err := os.Symlink(target, dst); err != nil {
				return fmt.Errorf("sandbox: recreating link %s: %w", dst, err)
			}
			continue
		case info.IsDir():
			if err := os.Mkdir(dst, info.Mode().Perm()); err != nil {
				return fmt.Errorf("sandbox: mirroring %s: %w", src, err)
			}
		default:
			if err := touch(dst); err != nil {
				return err
			}
		}
		if skipBind[e.Name()] {
			continue
		}
		if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("sandbox: binding %s: %w", src, err)
		}
	}
	return nil
}

// create makes m's missing target on a tmpfs owned by the sandbox.
func (v *viewBuilder) create(m Mount) error {
	anc := filepath.Dir(filepath.Clean(m.Target))
	for {
		if _, err := os.Stat(anc); err == nil {
			break
		}
		anc = filepath.Dir(anc)
	}
	dev, err := deviceOf(anc)
	if err != nil {
		return err
	}
	if !v.owned[dev] {
		if err := v.shadow(anc); err != nil {
			return err
		}
	}
	srcInfo, err := os.Stat(m.Source)
	if err != nil {
		return fmt.Errorf("sandbox: mount source %q: %w", m.Source, err)
	}
	if srcInfo.IsDir() {
		if err := os.MkdirAll(m.Target, 0o755); err != nil {
			return fmt.Errorf("sandbox: creating mount target %q: %w", m.Target, err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(m.Target), 0o755); err != nil {
		return fmt.Errorf("sandbox: creating mount target %q: %w", m.Target, err)
	}
	return touch(m.Target)
}

// shadow covers dir with a tmpfs that mirrors it.
func (v *viewBuilder) shadow(dir string) error {
	v.stages++
	stage := filepath.Join(stageDir, strconv.Itoa(v.stages))
	if err := os.MkdirAll(stage, 0o700); err != nil {
		return fmt.Errorf("sandbox: creating stage: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return fmt.Errorf("sandbox: stat %s: %w", dir, err)
	}
	opts := fmt.Sprintf("mode=%o,uid=%d,gid=%d", st.Mode&0o7777, st.Uid, st.Gid)
	if err := unix.Mount("tmpfs", stage, "tmpfs", 0, opts); err != nil {
		return fmt.Errorf("sandbox: mounting stage tmpfs: %w", err)
	}
	if err := mirror(dir, stage, nil); err != nil {
		return err
	}
	dev, err := deviceOf(stage)
	if err != nil {
		return err
	}
	if err := unix.Mount(stage, dir, "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("sandbox: covering %s: %w", dir, err)
	}
	v.owned[dev] = true
	_ = os.Remove(stage)
	return nil
}

// bind mounts m.Source at m.Target, read-only if asked.
// bind mounts m, its source reached through source (a path to the same
// file, such as an open descriptor's).
func bind(m Mount, source string) error {
	if err := unix.Mount(source, m.Target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("sandbox: mounting %q at %q: %w", m.Source, m.Target, err)
	}
	if !m.ReadOnly {
		return nil
	}
	// A bind's flags can only be changed by a remount that restates the
	// locked ones.
	var sfs unix.Statfs_t
	if err := unix.Statfs(m.Target, &sfs); err != nil {
		return fmt.Errorf("sandbox: statfs %q: %w", m.Target, err)
	}
	keep := uintptr(sfs.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME)
	if err := unix.Mount("", m.Target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|keep, ""); err != nil {
		return fmt.Errorf("sandbox: making %q read-only: %w", m.Target, err)
	}
	return nil
}

func touch(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("sandbox: creating %s: %w", path, err)
	}
	return f.Close()
}

func deviceOf(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("sandbox: stat %s: %w", path, err)
	}
	return st.Dev, nil
}
