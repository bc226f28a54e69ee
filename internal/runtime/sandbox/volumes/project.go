package volumes

import (
	"context"
	"fmt"
	"io/fs"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/batchlet/batchlet/internal/runtime/sandbox"
)

// defaultMode is the file mode of projected files when the pod sets none.
const defaultMode fs.FileMode = 0o644

func modeOf(item *int32, def fs.FileMode) fs.FileMode {
	if item != nil {
		return fs.FileMode(*item) & 0o777
	}
	return def
}

func modeOrDefault(m *int32) fs.FileMode { return modeOf(m, defaultMode) }

func optional(b *bool) bool { return b != nil && *b }

// projectVolume computes the payload of an updatable volume.
func projectVolume(ctx context.Context, pod *corev1.Pod, v *corev1.Volume, opts Options) (map[string]file, error) {
	files := map[string]file{}
	var err error
	switch {
	case v.ConfigMap != nil:
		cm := v.ConfigMap
		err = projectConfigMap(ctx, pod.Namespace, cm.Name, cm.Items, cm.Optional, modeOrDefault(cm.DefaultMode), opts.Source, files)
	case v.Secret != nil:
		s := v.Secret
		err = projectSecret(ctx, pod.Namespace, s.SecretName, s.Items, s.Optional, modeOrDefault(s.DefaultMode), opts.Source, files)
	case v.DownwardAPI != nil:
		err = projectDownward(pod, v.DownwardAPI.Items, modeOrDefault(v.DownwardAPI.DefaultMode), opts.Allocatable, files)
	case v.Projected != nil:
		err = projectSources(ctx, pod, v, opts, files)
	}
	if err != nil {
		return nil, err
	}
	return files, nil
}

func projectSources(ctx context.Context, pod *corev1.Pod, v *corev1.Volume, opts Options, files map[string]file) error {
	def := modeOrDefault(v.Projected.DefaultMode)
	for i, src := range v.Projected.Sources {
		var err error
		switch {
		case src.ConfigMap != nil:
			cm := src.ConfigMap
			err = projectConfigMap(ctx, pod.Namespace, cm.Name, cm.Items, cm.Optional, def, opts.Source, files)
		case src.Secret != nil:
			s := src.Secret
			err = projectSecret(ctx, pod.Namespace, s.Name, s.Items, s.Optional, def, opts.Source, files)
		case src.DownwardAPI != nil:
			err = projectDownward(pod, src.DownwardAPI.Items, def, opts.Allocatable, files)
		case src.ServiceAccountToken != nil:
			err = projectToken(ctx, pod, v.Name, i, src.ServiceAccountToken, def, opts, files)
		default:
			return &sandbox.UnsupportedError{
				Field:   fmt.Sprintf("%s.projected.sources[%d]", volumeField(pod, v.Name), i),
				Message: "projected volume source is not supported by the process runtime",
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func projectToken(ctx context.Context, pod *corev1.Pod, volume string, i int, p *corev1.ServiceAccountTokenProjection, mode fs.FileMode, opts Options, files map[string]file) error {
	if opts.Token == nil {
		return &sandbox.UnsupportedError{
			Field:   fmt.Sprintf("%s.projected.sources[%d].serviceAccountToken", volumeField(pod, volume), i),
			Message: "this node cannot issue service account tokens",
		}
	}
	tok, err := opts.Token(ctx, pod, p)
	if err != nil {
		return fmt.Errorf("fetching token: %w", err)
	}
	files[p.Path] = file{data: []byte(tok), mode: mode}
	return nil
}

func projectConfigMap(ctx context.Context, ns, name string, items []corev1.KeyToPath, opt *bool, def fs.FileMode, src Source, files map[string]file) error {
	var cm *corev1.ConfigMap
	var err error
	if src != nil {
		cm, err = src.ConfigMap(ctx, ns, name)
	}
	if src == nil || apierrors.IsNotFound(err) {
		if optional(opt) {
			return nil
		}
		return fmt.Errorf("configmap %q not found", name)
	}
	if err != nil {
		return fmt.Errorf("getting configmap %q: %w", name, err)
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return projectKeys(data, items, opt, def, "configmap references non-existent config key", files)
}

func projectSecret(ctx context.Context, ns, name string, items []corev1.KeyToPath, opt *bool, def fs.FileMode, src Source, files map[string]file) error {
	var sec *corev1.Secret
	var err error
	if src != nil {
		sec, err = src.Secret(ctx, ns, name)
	}
	if src == nil || apierrors.IsNotFound(err) {
		if optional(opt) {
			return nil
		}
		return fmt.Errorf("secret %q not found", name)
	}
	if err != nil {
		return fmt.Errorf("getting secret %q: %w", name, err)
	}
	data := make(map[string][]byte, len(sec.Data)+len(sec.StringData))
	for k, v := range sec.StringData {
		data[k] = []byte(v)
	}
	for k, v := range sec.Data {
		data[k] = v
	}
	return projectKeys(data, items, opt, def, "references non-existent secret key", files)
}

// projectKeys maps keys to files: all keys by their names, or the listed
// items to their paths.
func projectKeys(data map[string][]byte, items []corev1.KeyToPath, opt *bool, def fs.FileMode, missing string, files map[string]file) error {
	if len(items) == 0 {
		for k, v := range data {
			files[k] = file{data: v, mode: def}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional(opt) {
				continue
			}
			return fmt.Errorf("%s: %s", missing, it.Key)
		}
		files[it.Path] = file{data: v, mode: modeOf(it.Mode, def)}
	}
	return nil
}
