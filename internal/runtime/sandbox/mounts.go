package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ContainerMounts turns a container's volumeMounts into sandbox mounts.
// volumePaths maps volume names to their host paths (see volumes.SetUp);
// env is the container's environment, for subPathExpr. A subPath that does
// not exist yet is created as a directory inside the volume, as kubelet
// does; a subPath leading out of its volume is refused.
func ContainerMounts(pod *corev1.Pod, c *corev1.Container, volumePaths map[string]string, env map[string]string) ([]Mount, error) {
	field := containerField(pod, c)
	out := make([]Mount, 0, len(c.VolumeMounts))
	for i, vm := range c.VolumeMounts {
		f := fmt.Sprintf("%s.volumeMounts[%d]", field, i)
		if vm.MountPropagation != nil && *vm.MountPropagation != corev1.MountPropagationNone {
			return nil, &UnsupportedError{Field: f + ".mountPropagation", Message: fmt.Sprintf("mount propagation %q is not supported by the process runtime", *vm.MountPropagation)}
		}
		if vm.RecursiveReadOnly != nil && *vm.RecursiveReadOnly == corev1.RecursiveReadOnlyEnabled {
			return nil, &UnsupportedError{Field: f + ".recursiveReadOnly", Message: "recursive read-only mounts are not supported by the process runtime"}
		}
		root, ok := volumePaths[vm.Name]
		if !ok {
			return nil, fmt.Errorf("%s: volume %q is not set up", f, vm.Name)
		}
		sub := vm.SubPath
		if vm.SubPathExpr != "" {
			sub = expandEnv(vm.SubPathExpr, env)
		}
		src := root
		if sub != "" {
			var err error
			if src, err = subPathSource(root, sub); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
		}
		out = append(out, Mount{Source: src, Target: filepath.Clean(vm.MountPath), ReadOnly: vm.ReadOnly})
	}
	return out, nil
}

func containerField(pod *corev1.Pod, c *corev1.Container) string {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == c.Name {
			return fmt.Sprintf("spec.initContainers[%d]", i)
		}
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == c.Name {
			return fmt.Sprintf("spec.containers[%d]", i)
		}
	}
	return "spec.containers"
}

// subPathSource resolves sub inside root, creating it as a directory when
// missing, and refuses paths that lead (also through symlinks) outside.
func subPathSource(root, sub string) (string, error) {
	if filepath.IsAbs(sub) {
		return "", fmt.Errorf("subPath %q must be a relative path", sub)
	}
	for _, el := range strings.Split(sub, "/") {
		if el == ".." {
			return "", fmt.Errorf("subPath %q must not contain '..'", sub)
		}
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("resolving volume path: %w", err)
	}
	p := filepath.Join(root, sub)
	if _, err := os.Lstat(p); os.IsNotExist(err) {
		info, err := os.Stat(realRoot)
		if err != nil {
			return "", fmt.Errorf("reading volume: %w", err)
		}
		if err := os.MkdirAll(p, info.Mode().Perm()); err != nil {
			return "", fmt.Errorf("creating subPath %q: %w", sub, err)
		}
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("resolving subPath %q: %w", sub, err)
	}
	if real != realRoot && !strings.HasPrefix(real, realRoot+"/") {
		return "", fmt.Errorf("subPath %q leads outside its volume", sub)
	}
	return real, nil
}

// expandEnv replaces $(VAR) with its value; $$ escapes, unknown names stay
// as written, as in a container's command.
func expandEnv(s string, env map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := env[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
