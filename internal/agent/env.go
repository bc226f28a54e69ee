package agent

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// envSource resolves references to objects outside the pod.
type envSource struct {
	client      kubernetes.Interface
	allocatable corev1.ResourceList
	nodeIP      string
	podIP       string // the pod's own address; empty: the node's
	services    corelisters.ServiceLister
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
}

// containerEnv computes a container's environment as kubelet and the
// runtime would: image PATH and profile env, HOSTNAME, then envFrom and env
// in order, $(VAR) references resolved against what came before.
func (s *envSource) containerEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container, p Profile, homeDir string) (*envList, error) {
	env := newEnvList()
	path := defaultPath
	if len(p.Path) > 0 {
		path = strings.Join(p.Path, ":") + ":" + path
	}
	env.set("PATH", path)
	env.set("HOSTNAME", podHostname(pod))
	env.set("HOME", homeDir)
	keys := make([]string, 0, len(p.Env))
	for k := range p.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env.set(k, p.Env[k])
	}
	// Service links come first, so that the container's own env wins.
	svc := serviceEnv(s.services, pod)
	svcKeys := make([]string, 0, len(svc))
	for k := range svc {
		svcKeys = append(svcKeys, k)
	}
	sort.Strings(svcKeys)
	for _, k := range svcKeys {
		env.set(k, svc[k])
	}
	for _, from := range c.EnvFrom {
		if err := s.envFrom(ctx, pod.Namespace, from, env); err != nil {
			return nil, err
		}
	}
	for _, ev := range c.Env {
		if ev.ValueFrom == nil {
			env.set(ev.Name, expand(ev.Value, env.lookup))
			continue
		}
		v, ok, err := s.valueFrom(ctx, pod, c, ev.ValueFrom)
		if err != nil {
			return nil, err
		}
		if ok {
			env.set(ev.Name, v)
		}
	}
	return env, nil
}

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func podHostname(pod *corev1.Pod) string {
	h := pod.Name
	if pod.Spec.Hostname != "" {
		h = pod.Spec.Hostname
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

func (s *envSource) envFrom(ctx context.Context, ns string, from corev1.EnvFromSource, env *envList) error {
	var data map[string]string
	switch {
	case from.ConfigMapRef != nil:
		cm, err := s.configMap(ctx, ns, from.ConfigMapRef.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && isOptional(from.ConfigMapRef.Optional) {
				return nil
			}
			return err
		}
		data = cm.Data
	case from.SecretRef != nil:
		sec, err := s.secret(ctx, ns, from.SecretRef.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && isOptional(from.SecretRef.Optional) {
				return nil
			}
			return err
		}
		data = make(map[string]string, len(sec.Data))
		for k, v := range sec.Data {
			data[k] = string(v)
		}
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := from.Prefix + k
		// Keys that are not valid variable names are skipped, as kubelet does.
		if len(validation.IsEnvVarName(name)) > 0 {
			continue
		}
		env.set(name, data[k])
	}
	return nil
}

func isOptional(b *bool) bool { return b != nil && *b }

func (s *envSource) valueFrom(ctx context.Context, pod *corev1.Pod, c *corev1.Container, from *corev1.EnvVarSource) (string, bool, error) {
	switch {
	case from.FieldRef != nil:
		v, err := s.fieldRef(pod, from.FieldRef.FieldPath)
		return v, err == nil, err
	case from.ResourceFieldRef != nil:
		v, err := s.resourceFieldRef(c, from.ResourceFieldRef)
		return v, err == nil, err
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm, err := s.configMap(ctx, pod.Namespace, ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && isOptional(ref.Optional) {
				return "", false, nil
			}
			return "", false, err
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if b, bok := cm.BinaryData[ref.Key]; bok {
				return string(b), true, nil
			}
			if isOptional(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)
		}
		return v, true, nil
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		sec, err := s.secret(ctx, pod.Namespace, ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && isOptional(ref.Optional) {
				return "", false, nil
			}
			return "", false, err
		}
		v, ok := sec.Data[ref.Key]
		if !ok {
			if isOptional(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)
		}
		return string(v), true, nil
	}
	return "", false, nil
}

func (s *envSource) configMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	key := ns + "/" + name
	if cm, ok := s.configMaps[key]; ok {
		return cm, nil
	}
	if s.client == nil {
		return nil, apierrors.NewNotFound(corev1.Resource("configmaps"), name)
	}
	cm, err := s.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewNotFound(corev1.Resource("configmap"), name)
		}
		return nil, fmt.Errorf("getting configmap %s: %w", key, err)
	}
	if s.configMaps == nil {
		s.configMaps = map[string]*corev1.ConfigMap{}
	}
	s.configMaps[key] = cm
	return cm, nil
}

func (s *envSource) secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	key := ns + "/" + name
	if sec, ok := s.secrets[key]; ok {
		return sec, nil
	}
	if s.client == nil {
		return nil, apierrors.NewNotFound(corev1.Resource("secret"), name)
	}
	sec, err := s.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewNotFound(corev1.Resource("secret"), name)
		}
		return nil, fmt.Errorf("getting secret %s: %w", key, err)
	}
	if s.secrets == nil {
		s.secrets = map[string]*corev1.Secret{}
	}
	s.secrets[key] = sec
	return sec, nil
}

// fieldRef resolves the downward API fields kubelet supports in env.
func (s *envSource) fieldRef(pod *corev1.Pod, path string) (string, error) {
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
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return s.nodeIP, nil
	case "status.podIP", "status.podIPs":
		if s.podIP != "" {
			return s.podIP, nil
		}
		return s.nodeIP, nil
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

func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, 0, len(keys))
	for _, k := range keys {
		lines = append(lines, k+"="+strconv.Quote(m[k]))
	}
	return strings.Join(lines, "\n")
}

// resourceFieldRef reports a container's request or limit in units of the
// divisor, rounded up; an unset limit reports the node's allocatable.
func (s *envSource) resourceFieldRef(c *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	kind, res, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", fmt.Errorf("unsupported container resource: %v", ref.Resource)
	}
	name := corev1.ResourceName(res)
	var q resource.Quantity
	var set bool
	if kind == "limits" {
		q, set = c.Resources.Limits[name]
		if !set {
			q, set = s.allocatable[name]
		}
	} else {
		// An unset request reads as zero.
		q, set = c.Resources.Requests[name], true
	}
	if !set {
		return "", fmt.Errorf("unsupported container resource: %v", ref.Resource)
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if name == corev1.ResourceCPU {
		v := int64(math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue())))
		return strconv.FormatInt(v, 10), nil
	}
	v := int64(math.Ceil(float64(q.Value()) / float64(divisor.Value())))
	return strconv.FormatInt(v, 10), nil
}
