// Package cgroups enforces pods' resource limits with Linux control
// groups, on cgroup v2, v1, or the hybrid of both where each controller
// lives in whichever hierarchy has it.
package cgroups

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The controllers batchlet uses.
const (
	Memory = "memory"
	CPU    = "cpu"
	Pids   = "pids"
)

var controllers = []string{Memory, CPU, Pids}

// hierarchy is one mounted cgroup hierarchy and batchlet's parent in it.
type hierarchy struct {
	v2 bool
	// parent is the absolute directory under which groups are made.
	parent      string
	controllers []string
}

// mountInfo is the part of a /proc/self/mountinfo line detection needs.
type mountInfo struct {
	root, mountPoint, fsType, superOpts string
}

func readMountInfo(r io.Reader) []mountInfo {
	var out []mountInfo
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 {
			continue
		}
		out = append(out, mountInfo{root: f[3], mountPoint: unescape(f[4]), fsType: g[0], superOpts: g[2]})
	}
	return out
}

// unescape undoes mountinfo's octal escapes of spaces and the like.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ownCgroups parses /proc/self/cgroup: v1 controller (or "" for v2) →
// the process's cgroup path.
func ownCgroups(r io.Reader) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out
}

// detect finds, for each controller, the hierarchy that offers it: v2
// when its root lists the controller, else a v1 hierarchy. v2 groups go
// under the hierarchy's root (a cgroup holding processes cannot delegate
// controllers); v1 groups nest under the agent's own cgroup so they stay
// within whatever limits the agent runs under.
func detect(mounts []mountInfo, own map[string]string, name string, readFile func(string) ([]byte, error)) []*hierarchy {
	var out []*hierarchy
	taken := map[string]bool{}
	for _, m := range mounts {
		if m.fsType != "cgroup2" || m.root != "/" {
			continue
		}
		data, err := readFile(filepath.Join(m.mountPoint, "cgroup.controllers"))
		if err != nil {
			continue
		}
		avail := strings.Fields(string(data))
		h := &hierarchy{v2: true, parent: filepath.Join(m.mountPoint, name)}
		for _, c := range controllers {
			if contains(avail, c) && !taken[c] {
				h.controllers = append(h.controllers, c)
				taken[c] = true
			}
		}
		if len(h.controllers) > 0 {
			out = append(out, h)
		}
		break
	}
	for _, m := range mounts {
		if m.fsType != "cgroup" {
			continue
		}
		opts := strings.Split(m.superOpts, ",")
		h := &hierarchy{}
		for _, c := range controllers {
			if contains(opts, c) && !taken[c] {
				h.controllers = append(h.controllers, c)
				taken[c] = true
			}
		}
		if len(h.controllers) == 0 {
			continue
		}
		rel := own[h.controllers[0]]
		// The mount may show a sub-tree (m.root) of the hierarchy.
		rel = strings.TrimPrefix(rel, strings.TrimSuffix(m.root, "/"))
		h.parent = filepath.Join(m.mountPoint, rel, name)
		out = append(out, h)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func readProcFile(name string) io.ReadCloser {
	f, err := os.Open(name)
	if err != nil {
		return io.NopCloser(strings.NewReader(""))
	}
	return f
}
