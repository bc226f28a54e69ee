package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// Capabilities is what the host lets batchlet enforce, for the Node.
type Capabilities struct {
	// Mode is "v2", "v1", "hybrid" (controllers split between both) or
	// "none".
	Mode   string
	Memory bool
	CPU    bool
	Pids   bool
}

// Enforced lists the enforced controllers.
func (c Capabilities) Enforced() []string {
	var out []string
	for _, x := range []struct {
		on   bool
		name string
	}{{c.Memory, Memory}, {c.CPU, CPU}, {c.Pids, Pids}} {
		if x.on {
			out = append(out, x.name)
		}
	}
	return out
}

func (c Capabilities) String() string {
	if c.Mode == "none" || len(c.Enforced()) == 0 {
		return "cgroups: none (resource limits not enforced)"
	}
	return fmt.Sprintf("cgroup %s: %s enforced", c.Mode, strings.Join(c.Enforced(), ", "))
}

// Options configure a Manager.
type Options struct {
	// Name is the parent group's name in each hierarchy; default "batchlet".
	Name string
}

// Manager creates groups under batchlet's parent group.
type Manager struct {
	hier []*hierarchy
	caps Capabilities
}

// Detect inspects the host's cgroup mounts. It always returns a usable
// Manager; one without privileges or controllers enforces nothing, and
// says so in Capabilities (and in Check).
func Detect(opts Options) *Manager {
	name := opts.Name
	if name == "" {
		name = "batchlet"
	}
	mi := readProcFile("/proc/self/mountinfo")
	mounts := readMountInfo(mi)
	mi.Close()
	cg := readProcFile("/proc/self/cgroup")
	own := ownCgroups(cg)
	cg.Close()
	m := &Manager{}
	if os.Geteuid() == 0 {
		m.hier = detect(mounts, own, name, os.ReadFile)
	}
	m.caps = capabilities(m.hier)
	return m
}

func capabilities(hier []*hierarchy) Capabilities {
	c := Capabilities{Mode: "none"}
	var v1, v2 bool
	for _, h := range hier {
		if h.v2 {
			v2 = true
		} else {
			v1 = true
		}
		for _, ctrl := range h.controllers {
			switch ctrl {
			case Memory:
				c.Memory = true
			case CPU:
				c.CPU = true
			case Pids:
				c.Pids = true
			}
		}
	}
	switch {
	case v1 && v2:
		c.Mode = "hybrid"
	case v2:
		c.Mode = "v2"
	case v1:
		c.Mode = "v1"
	}
	return c
}

// Capabilities reports what this node enforces.
func (m *Manager) Capabilities() Capabilities { return m.caps }

// Create makes (or reuses) the group at path (slash-separated below the
// parent, e.g. "pod<uid>/<container>") and applies r to it. The caller
// should Check r first: Create ignores limits without a controller.
func (m *Manager) Create(path string, r Resources) (*Group, error) {
	if err := validPath(path); err != nil {
		return nil, err
	}
	g := m.Open(path)
	for _, d := range g.dirs {
		if d.h.v2 {
			if err := enableControllers(d.h.parent, path, d.h.controllers); err != nil {
				return nil, err
			}
		}
		if err := os.MkdirAll(d.path, 0o755); err != nil {
			return nil, fmt.Errorf("creating cgroup %s: %w", d.path, err)
		}
	}
	if err := g.apply(r); err != nil {
		return nil, err
	}
	return g, nil
}

// Open returns the group at path without creating it (to adopt a group
// made by an earlier agent process).
func (m *Manager) Open(path string) *Group {
	g := &Group{path: path}
	for _, h := range m.hier {
		g.dirs = append(g.dirs, groupDir{h: h, path: filepath.Join(h.parent, filepath.FromSlash(path))})
	}
	return g
}

func validPath(path string) error {
	if path == "" || strings.HasPrefix(path, "/") {
		return fmt.Errorf("cgroups: invalid group path %q", path)
	}
	for _, el := range strings.Split(path, "/") {
		if el == "" || el == "." || el == ".." {
			return fmt.Errorf("cgroups: invalid group path %q", path)
		}
	}
	return nil
}

// enableControllers delegates the controllers from the v2 root down to
// the parent of the group at path: every ancestor's subtree_control must
// list a controller for a child to use it.
func enableControllers(parent, path string, ctrls []string) error {
	root := filepath.Dir(parent)
	dirs := []string{root, parent}
	els := strings.Split(path, "/")
	for i := 1; i < len(els); i++ {
		dirs = append(dirs, filepath.Join(parent, filepath.Join(els[:i]...)))
	}
	var want []string
	for _, c := range ctrls {
		want = append(want, "+"+c)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating cgroup %s: %w", d, err)
		}
		cur, _ := os.ReadFile(filepath.Join(d, "cgroup.subtree_control"))
		missing := false
		for _, c := range ctrls {
			if !contains(strings.Fields(string(cur)), c) {
				missing = true
			}
		}
		if !missing {
			continue
		}
		if err := os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte(strings.Join(want, " ")), 0); err != nil {
			return fmt.Errorf("enabling controllers in %s: %w", d, err)
		}
	}
	return nil
}

// Groups lists the existing groups directly below prefix ("" for the
// parent itself), to find leftovers after a restart.
func (m *Manager) Groups(prefix string) ([]string, error) {
	seen := map[string]bool{}
	for _, h := range m.hier {
		entries, err := os.ReadDir(filepath.Join(h.parent, filepath.FromSlash(prefix)))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("listing cgroups: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() {
				seen[e.Name()] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// RemoveParent removes batchlet's parent groups if they are empty (at
// agent shutdown, or after tests).
func (m *Manager) RemoveParent() error {
	for _, h := range m.hier {
		if err := syscall.Rmdir(h.parent); err != nil && !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.EBUSY) {
			return fmt.Errorf("removing cgroup %s: %w", h.parent, err)
		}
	}
	return nil
}
