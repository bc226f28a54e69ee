package volumes

import (
	"fmt"
	"io/fs"
	"math"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func projectDownward(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, def fs.FileMode, alloc corev1.ResourceList, files map[string]file) error {
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = podField(pod, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			v, err = containerResource(pod, it.ResourceFieldRef, alloc)
		default:
			err = fmt.Errorf("downwardAPI item %q has no source", it.Path)
		}
		if err != nil {
			return err
		}
		files[it.Path] = file{data: []byte(v), mode: modeOf(it.Mode, def)}
	}
	return nil
}

// podField resolves the metadata fields a downwardAPI volume may expose.
func podField(pod *corev1.Pod, path string) (string, error) {
	if k, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[k], nil
	}
	if k, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[k], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	}
	return "", fmt.Errorf("unsupported fieldPath: %s", path)
}

// subscript parses prefix['key'].
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}

// formatMap renders a map as kubelet does: key="value" lines, sorted.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(k + "=" + strconv.Quote(m[k]))
	}
	return b.String()
}

// containerResource reports a container's request or limit in units of
// the divisor, rounded up; an unset limit reports the node's allocatable.
func containerResource(pod *corev1.Pod, ref *corev1.ResourceFieldSelector, alloc corev1.ResourceList) (string, error) {
	c := findContainer(pod, ref.ContainerName)
	if c == nil {
		return "", fmt.Errorf("container %q not found in pod", ref.ContainerName)
	}
	kind, res, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", fmt.Errorf("unsupported container resource: %v", ref.Resource)
	}
	name := corev1.ResourceName(res)
	var q resource.Quantity
	if kind == "limits" {
		var set bool
		if q, set = c.Resources.Limits[name]; !set {
			if q, set = alloc[name]; !set {
				return "", fmt.Errorf("no limit or allocatable known for %v", ref.Resource)
			}
		}
	} else {
		q = c.Resources.Requests[name]
	}
	div := ref.Divisor
	if div.IsZero() {
		div = resource.MustParse("1")
	}
	if name == corev1.ResourceCPU {
		return strconv.FormatInt(ceilDiv(q.MilliValue(), div.MilliValue()), 10), nil
	}
	return strconv.FormatInt(ceilDiv(q.Value(), div.Value()), 10), nil
}

func ceilDiv(a, b int64) int64 {
	if b == 0 {
		return 0
	}
	return int64(math.Ceil(float64(a) / float64(b)))
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}
