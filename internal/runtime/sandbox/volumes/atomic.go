package volumes

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The layout kubelet's atomic writer gives updatable volumes: the payload
// lives in a timestamped directory, "..data" is a symlink to it and every
// visible top-level name is a symlink through "..data". Swapping "..data"
// with a rename changes all files at once.
const (
	dataLink    = "..data"
	dataLinkTmp = "..data_tmp"
)

// file is one file of a volume's payload.
type file struct {
	data []byte
	mode fs.FileMode
}

// validPayloadPath rejects paths that could escape the volume or collide
// with the writer's own names.
func validPayloadPath(p string) error {
	if p == "" || filepath.IsAbs(p) {
		return fmt.Errorf("invalid path %q: must be a relative path", p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return fmt.Errorf("invalid path %q: must not contain '..'", p)
		}
	}
	if strings.HasPrefix(p, "..") {
		return fmt.Errorf("invalid path %q: must not start with '..'", p)
	}
	return nil
}

// writeAtomic makes dir hold exactly files, atomically; it does nothing
// when dir already holds them.
func writeAtomic(dir string, files map[string]file) error {
	for p := range files {
		if err := validPayloadPath(p); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating volume directory: %w", err)
	}
	oldTarget, err := os.Readlink(filepath.Join(dir, dataLink))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", dataLink, err)
	}
	if oldTarget != "" && samePayload(filepath.Join(dir, oldTarget), files) {
		return nil
	}
	tsDir, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return fmt.Errorf("creating payload directory: %w", err)
	}
	if err := os.Chmod(tsDir, 0o755); err != nil {
		return fmt.Errorf("setting payload directory mode: %w", err)
	}
	for p, f := range files {
		if err := writePayloadFile(filepath.Join(tsDir, p), f); err != nil {
			_ = os.RemoveAll(tsDir)
			return err
		}
	}
	tmp := filepath.Join(dir, dataLinkTmp)
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(tsDir), tmp); err != nil {
		return fmt.Errorf("creating %s: %w", dataLinkTmp, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
		return fmt.Errorf("swapping %s: %w", dataLink, err)
	}
	if err := syncUserLinks(dir, files); err != nil {
		return err
	}
	if oldTarget != "" && oldTarget != filepath.Base(tsDir) {
		if err := os.RemoveAll(filepath.Join(dir, oldTarget)); err != nil {
			return fmt.Errorf("removing old payload: %w", err)
		}
	}
	return nil
}

func writePayloadFile(path string, f file) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating payload directory: %w", err)
	}
	if err := os.WriteFile(path, f.data, f.mode); err != nil {
		return fmt.Errorf("writing payload file: %w", err)
	}
	// WriteFile's mode is filtered by the umask; the volume's is not.
	if err := os.Chmod(path, f.mode); err != nil {
		return fmt.Errorf("setting payload file mode: %w", err)
	}
	return nil
}

// syncUserLinks points each top-level payload name through ..data and
// drops links to names that are gone.
func syncUserLinks(dir string, files map[string]file) error {
	want := map[string]bool{}
	for p := range files {
		top, _, _ := strings.Cut(p, "/")
		want[top] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading volume directory: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") || want[e.Name()] {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("removing stale link: %w", err)
		}
	}
	for top := range want {
		link := filepath.Join(dir, top)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join(dataLink, top), link); err != nil {
			return fmt.Errorf("creating link for %s: %w", top, err)
		}
	}
	return nil
}

// samePayload reports whether dir holds exactly files.
func samePayload(dir string, files map[string]file) bool {
	seen := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		f, ok := files[rel]
		if !ok {
			return errors.New("extra file")
		}
		info, err := d.Info()
		if err != nil || info.Mode().Perm() != f.mode.Perm() {
			return errors.New("mode differs")
		}
		data, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(data, f.data) {
			return errors.New("content differs")
		}
		seen++
		return nil
	})
	return err == nil && seen == len(files)
}
