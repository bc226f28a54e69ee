package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/batchlet/batchlet/internal/dns"
	"github.com/batchlet/batchlet/internal/fsutil"
	"github.com/batchlet/batchlet/internal/runtime/sandbox"
	"github.com/batchlet/batchlet/internal/runtime/sandbox/cgroups"
	"github.com/batchlet/batchlet/internal/runtime/sandbox/volumes"
)

// IsolationMode selects whether containers are isolated.
type IsolationMode int

const (
	// IsolationAuto isolates when the agent runs as root on Linux.
	IsolationAuto IsolationMode = iota
	// IsolationOn always isolates; containers fail to start without root.
	IsolationOn
	// IsolationOff runs containers as plain host processes; pods that
	// need isolation (volume mounts, limits) fail as unsupported.
	IsolationOff
)

func (m IsolationMode) enabled() bool {
	switch m {
	case IsolationOn:
		return true
	case IsolationOff:
		return false
	}
	return goruntime.GOOS == "linux" && os.Geteuid() == 0
}

// podSandbox is what the containers of one pod share on this node: its
// volumes, its /etc files and its network namespace (empty in the host
// network).
type podSandbox struct {
	// dir, in the data dir, holds volumes and private /tmp directories;
	// runDir, in the run dir, the /etc files and scratch mount targets.
	dir, runDir string
	volPaths    map[string]string
	etc         []sandbox.Mount
	netns       string
}

// Volumes live in the data dir's sandbox directory, which the pod's
// cleanup removes; the /etc files live in the runtime's, in the directory
// itself: one directory fewer to make per pod.
func volumeDir(sandboxDir string) string { return filepath.Join(sandboxDir, "volumes") }

// setUpPod materialises a pod's volumes and /etc files. Without isolation
// a pod that mounts volumes cannot run as written and gets an
// *sandbox.UnsupportedError.
func (a *Agent) setUpPod(ctx context.Context, pod *corev1.Pod, dir, runDir string) (*podSandbox, error) {
	sb := &podSandbox{dir: dir, runDir: runDir, volPaths: map[string]string{}}
	if err := sandbox.CheckPod(pod, a.isolate); err != nil {
		return nil, err
	}
	if !a.isolate {
		if f := firstVolumeMount(pod); f != "" {
			return nil, &sandbox.UnsupportedError{Field: f,
				Message: "volume mounts need mount namespaces, which this node cannot create (requires running as root on Linux)"}
		}
		return sb, nil
	}
	vols, err := volumes.SetUp(ctx, pod, volumes.Options{Dir: volumeDir(dir),
		Source: clientSource{a.client}, Allocatable: a.node.allocatable()})
	if err != nil {
		return nil, err
	}
	for name, v := range vols {
		sb.volPaths[name] = v.Path
	}
	podIPs := []string{a.nodeIP}
	pn, err := a.setUpPodNetwork(pod)
	if err != nil {
		return nil, err
	}
	if pn != nil {
		sb.netns, podIPs = pn.NetNS, []string{pn.IP.String()}
	}
	var resolv []byte
	if ip := net.ParseIP(a.cfg.ClusterDNS); ip != nil {
		host := a.hostResolv.read()
		if resolv, err = dns.ResolvConf(ip.String(), pod.Namespace, a.clusterDomain(), pod, host); err != nil {
			return nil, fmt.Errorf("rendering resolv.conf: %w", err)
		}
	}
	sb.etc, err = sandbox.WriteEtcFiles(pod, sandbox.EtcFiles{Dir: runDir, PodIPs: podIPs,
		ResolvConf: resolv, ClusterDomain: a.clusterDomain()})
	if err != nil {
		return nil, err
	}
	return sb, nil
}

func (a *Agent) clusterDomain() string {
	if a.cfg.ClusterDomain != "" {
		return a.cfg.ClusterDomain
	}
	return sandbox.DefaultClusterDomain
}

func firstVolumeMount(pod *corev1.Pod) string {
	for i, c := range pod.Spec.InitContainers {
		if len(c.VolumeMounts) > 0 {
			return fmt.Sprintf("spec.initContainers[%d].volumeMounts", i)
		}
	}
	for i, c := range pod.Spec.Containers {
		if len(c.VolumeMounts) > 0 {
			return fmt.Sprintf("spec.containers[%d].volumeMounts", i)
		}
	}
	return ""
}

// containerField is the field path of a container of pod.
func containerField(pod *corev1.Pod, name string) string {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return fmt.Sprintf("spec.initContainers[%d]", i)
		}
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return fmt.Sprintf("spec.containers[%d]", i)
		}
	}
	return "spec.containers"
}

// privateTmp makes the /tmp of one container attempt in the pod's
// directory: an image gives each container a /tmp of its own, empty when
// the container (re)starts, and nothing a container writes there may
// reach the host's /tmp. It is made right in the pod's directory, which
// exists by now: each directory made on the data dir's filesystem costs
// a pod start 0.1-0.3 ms of CPU there. The dot keeps the name apart from
// the containers' log directories, as a container's name cannot hold one.
func privateTmp(podDir, name string) (string, error) {
	dir := filepath.Join(podDir, "tmp."+name)
	if err := fsutil.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating the container's /tmp: %w", err)
	}
	// mkdir's mode passes through the umask, which clears the bits /tmp
	// needs. (Go spells the sticky bit os.ModeSticky: 0o1777 would be
	// taken as plain 0777.)
	if err := os.Chmod(dir, os.ModeSticky|0o777); err != nil {
		return "", fmt.Errorf("creating the container's /tmp: %w", err)
	}
	return dir, nil
}

// withinTmp reports whether dir is under /tmp: a node whose data dir is
// there (tests, throw-away setups) keeps the host's /tmp in containers,
// since the busybox applets and other node files a container runs would
// be hidden under a private one.
func withinTmp(dir string) bool {
	rel, err := filepath.Rel("/tmp", dir)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

func mountsAt(mounts []sandbox.Mount, target string) bool {
	for _, m := range mounts {
		if filepath.Clean(m.Target) == target {
			return true
		}
	}
	return false
}

// containerSandbox is the isolation of one container attempt, and its
// cgroup when it has limits. It returns nil without isolation, or an
// *sandbox.UnsupportedError when the container sets limits that cannot be
// enforced.
func (a *Agent) containerSandbox(pod *corev1.Pod, c *corev1.Container, sb *podSandbox, env []string, attempt string) (*sandbox.Spec, *cgroups.Group, error) {
	res := cgroups.ContainerResources(c)
	limited := res.MemoryLimit > 0 || res.CPULimitMilli > 0 || res.PidsLimit > 0
	if !a.isolate {
		if limited {
			return nil, nil, a.cgroups.Check(containerField(pod, c.Name), res)
		}
		return nil, nil, nil
	}
	envMap := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			envMap[k] = v
		}
	}
	mounts, err := sandbox.ContainerMounts(pod, c, sb.volPaths, envMap)
	if err != nil {
		return nil, nil, err
	}
	// The init step makes it when a mount target is missing.
	scratch := filepath.Join(sb.runDir, "scratch", c.Name+"-"+attempt)
	all := append([]sandbox.Mount{}, sb.etc...)
	if !mountsAt(mounts, "/tmp") && !withinTmp(a.cfg.DataDir) {
		tmp, err := privateTmp(filepath.Dir(sb.dir), c.Name+"-"+attempt)
		if err != nil {
			return nil, nil, err
		}
		all = append(all, sandbox.Mount{Source: tmp, Target: "/tmp"})
	}
	caps, ignored := sandbox.ContainerCapabilities(c)
	if len(ignored) > 0 {
		slog.Warn("ignoring unknown capabilities", "pod", pod.Namespace+"/"+pod.Name, "container", c.Name, "names", ignored)
	}
	sp := &sandbox.Spec{Namespaces: true, Hostname: sandbox.UTSHostname(pod, a.clusterDomain()),
		Mounts: append(all, mounts...), ScratchDir: scratch, NetNS: sb.netns,
		LimitCapabilities: true, Capabilities: caps}
	if !limited {
		return sp, nil, nil
	}
	if err := a.cgroups.Check(containerField(pod, c.Name), res); err != nil {
		return nil, nil, err
	}
	g, err := a.cgroups.Create(cgroupPath(pod, c.Name, attempt), res)
	if err != nil {
		return nil, nil, fmt.Errorf("creating cgroup: %w", err)
	}
	sp.CgroupProcs = g.ProcsFiles()
	return sp, g, nil
}

// cgroupPath names an attempt's group below the agent's parent group.
func cgroupPath(pod *corev1.Pod, container, attempt string) string {
	return "pod" + string(pod.UID) + "/" + container + "-" + attempt
}

// attemptName is the attempt number as used in paths.
func attemptName(n int) string { return strconv.Itoa(n) }

// isUnsupported reports whether err means the pod cannot run on this node.
func isUnsupported(err error) (*sandbox.UnsupportedError, bool) {
	var ue *sandbox.UnsupportedError
	ok := errors.As(err, &ue)
	return ue, ok
}

// clientSource reads volumes' ConfigMaps and Secrets from the API.
type clientSource struct{ client kubernetes.Interface }

func (s clientSource) ConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	return s.client.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (s clientSource) Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	return s.client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
}
