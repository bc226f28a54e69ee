// Package volumes materialises a pod's volumes in a per-pod directory on
// the node, the way kubelet's volume plugins do: each volume becomes a
// directory (or a bind target on the host for hostPath) that the sandbox
// then bind-mounts at the containers' mountPaths.
package volumes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchlet/batchlet/internal/runtime/sandbox"
)

// Source gives the ConfigMaps and Secrets a pod's volumes refer to. A
// missing object is reported with an error for which
// k8s.io/apimachinery/pkg/api/errors.IsNotFound is true.
type Source interface {
	ConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error)
	Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
}

// TokenFunc issues a service account token for a projected volume source.
type TokenFunc func(ctx context.Context, pod *corev1.Pod, p *corev1.ServiceAccountTokenProjection) (string, error)

// Options configure SetUp and Update.
type Options struct {
	// Dir is the pod's volume directory (inside the agent's data dir);
	// every volume lives in Dir/<volume name>.
	Dir string
	// Source provides ConfigMaps and Secrets; nil means none exist.
	Source Source
	// Token issues serviceAccountToken projections; nil means the node
	// cannot, and a pod asking for one fails to mount.
	Token TokenFunc
	// Allocatable is what a resourceFieldRef to an unset limit reports.
	Allocatable corev1.ResourceList
	// Privileged says whether mounts (tmpfs) may be made; the zero value
	// means "detect": true when running as root.
	Privileged *bool
}

func (o Options) privileged() bool {
	if o.Privileged != nil {
		return *o.Privileged
	}
	return os.Geteuid() == 0
}

// Volume is one materialised volume.
type Volume struct {
	Name string
	// Path is the host path containers' mounts are made from.
	Path string
	// Updatable volumes (configMap, secret, downwardAPI, projected) are
	// rewritten atomically by Update; their files are symlinks into a
	// "..data" directory.
	Updatable bool
}

// Volumes are a pod's materialised volumes by name.
type Volumes map[string]Volume

// SetUp materialises every volume of pod under opts.Dir. It is idempotent:
// emptyDir contents survive a second call, updatable volumes are
// refreshed. The first volume that cannot be set up stops it with a
// *MountError (or a *sandbox.UnsupportedError when the node lacks a privilege).
func SetUp(ctx context.Context, pod *corev1.Pod, opts Options) (Volumes, error) {
	if opts.Dir == "" {
		return nil, errors.New("volumes: no directory given")
	}
	// A directory costs a file system write; pods without volumes need none.
	if len(pod.Spec.Volumes) > 0 {
		if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
			return nil, fmt.Errorf("creating volume directory: %w", err)
		}
	}
	vols := make(Volumes, len(pod.Spec.Volumes))
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		vol, err := setUpOne(ctx, pod, v, opts)
		if err != nil {
			return nil, err
		}
		vols[v.Name] = vol
	}
	return vols, nil
}

// Update rewrites the updatable volumes of pod from current data; each
// volume changes atomically, and only when its content changed.
func Update(ctx context.Context, pod *corev1.Pod, opts Options) error {
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if !updatable(v) {
			continue
		}
		if _, err := setUpOne(ctx, pod, v, opts); err != nil {
			return err
		}
	}
	return nil
}

func updatable(v *corev1.Volume) bool {
	return v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil
}

func setUpOne(ctx context.Context, pod *corev1.Pod, v *corev1.Volume, opts Options) (Volume, error) {
	dir := filepath.Join(opts.Dir, v.Name)
	vol := Volume{Name: v.Name, Path: dir, Updatable: updatable(v)}
	var err error
	switch {
	case v.EmptyDir != nil:
		err = setUpEmptyDir(dir, volumeField(pod, v.Name), v.EmptyDir, opts)
	case v.HostPath != nil:
		vol.Path, err = checkHostPath(v.HostPath)
	case updatable(v):
		var files map[string]file
		files, err = projectVolume(ctx, pod, v, opts)
		if err == nil {
			err = writeAtomic(dir, files)
		}
	default:
		return vol, &sandbox.UnsupportedError{Field: volumeField(pod, v.Name), Message: "volume type is not supported by the process runtime"}
	}
	if err != nil {
		var ue *sandbox.UnsupportedError
		if errors.As(err, &ue) {
			return vol, err
		}
		return vol, &MountError{Volume: v.Name, Err: err}
	}
	return vol, nil
}

// TearDown releases everything SetUp made under dir: it unmounts memory
// backed emptyDirs and removes the directory.
func TearDown(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("reading volume directory: %w", err)
	}
	for _, e := range entries {
		if err := unmountIfMounted(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing volume directory: %w", err)
	}
	return nil
}

// volumeField is the field path of the named volume, for error reports.
func volumeField(pod *corev1.Pod, name string) string {
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Name == name {
			return fmt.Sprintf("spec.volumes[%d]", i)
		}
	}
	return "spec.volumes"
}
