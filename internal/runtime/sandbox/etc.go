package sandbox

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
)

// DefaultClusterDomain is the DNS domain of the cluster's Services.
const DefaultClusterDomain = "cluster.local"

// PodHostname is the hostname Kubernetes gives a pod: spec.hostname, or
// the pod's name, cut to the 63 characters a DNS label allows.
func PodHostname(pod *corev1.Pod) string {
	h := pod.Name
	if pod.Spec.Hostname != "" {
		h = pod.Spec.Hostname
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// PodFQDN is <hostname>.<subdomain>.<namespace>.svc.<domain> for a pod
// with a subdomain, and "" otherwise.
func PodFQDN(pod *corev1.Pod, clusterDomain string) string {
	if pod.Spec.Subdomain == "" {
		return ""
	}
	if clusterDomain == "" {
		clusterDomain = DefaultClusterDomain
	}
	return fmt.Sprintf("%s.%s.%s.svc.%s", PodHostname(pod), pod.Spec.Subdomain, pod.Namespace, clusterDomain)
}

// UTSHostname is the kernel hostname inside the pod: the FQDN when the pod
// sets setHostnameAsFQDN (and has one), else the hostname.
func UTSHostname(pod *corev1.Pod, clusterDomain string) string {
	if pod.Spec.SetHostnameAsFQDN != nil && *pod.Spec.SetHostnameAsFQDN {
		if fqdn := PodFQDN(pod, clusterDomain); fqdn != "" {
			return fqdn
		}
	}
	return PodHostname(pod)
}

// HostsFile renders the kubelet-managed /etc/hosts of a pod with the given
// addresses.
func HostsFile(pod *corev1.Pod, podIPs []string, clusterDomain string) []byte {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	host, fqdn := PodHostname(pod), PodFQDN(pod, clusterDomain)
	for _, ip := range podIPs {
		if fqdn != "" {
			fmt.Fprintf(&b, "%s\t%s\t%s\n", ip, fqdn, host)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", ip, host)
		}
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	return []byte(b.String())
}

// EtcFiles are the per-pod files the sandbox binds over the host's.
type EtcFiles struct {
	// Dir receives hosts, hostname and resolv.conf (a pod directory).
	Dir    string
	PodIPs []string
	// ResolvConf is the rendered resolv.conf; nil keeps the host's.
	ResolvConf    []byte
	ClusterDomain string
}

// WriteEtcFiles writes the pod's /etc/hosts, /etc/hostname and (when
// given) /etc/resolv.conf into f.Dir and returns the mounts that put them
// in place. A bind mount keeps the file it was made from, so rewritten
// files reach only containers started afterwards, as with kubelet.
//
// A file that does not exist yet is new to this sandbox, and no container
// has it bound: it is created and written in place, which costs half the
// system calls of a temporary file and a rename. One that exists (the
// pod set up again, by an agent restarted while the pod's containers run
// with the file bound, or after a failed attempt) is replaced by a
// rename, so that no reader ever sees it half written.
func WriteEtcFiles(pod *corev1.Pod, f EtcFiles) ([]Mount, error) {
	files := []struct {
		name, target string
		data         []byte
	}{
		{"hosts", "/etc/hosts", HostsFile(pod, f.PodIPs, f.ClusterDomain)},
		{"hostname", "/etc/hostname", []byte(UTSHostname(pod, f.ClusterDomain) + "\n")},
	}
	if f.ResolvConf != nil {
		files = append(files, struct {
			name, target string
			data         []byte
		}{"resolv.conf", "/etc/resolv.conf", f.ResolvConf})
	}
	mounts := make([]Mount, 0, len(files))
	for i, file := range files {
		p := filepath.Join(f.Dir, file.name)
		err := writeEtcFile(p, file.data)
		if i == 0 && errors.Is(err, fs.ErrNotExist) {
			// The runtime's sandbox step usually made the directory.
			if err := os.MkdirAll(f.Dir, 0o755); err != nil {
				return nil, fmt.Errorf("creating etc directory: %w", err)
			}
			err = writeEtcFile(p, file.data)
		}
		if err != nil {
			return nil, err
		}
		mounts = append(mounts, Mount{Source: p, Target: file.target})
	}
	return mounts, nil
}

// writeEtcFile creates path with data, or replaces it atomically when it
// exists already (see WriteEtcFiles).
func writeEtcFile(path string, data []byte) error {
	err := createFile(path, data)
	if errors.Is(err, fs.ErrExist) {
		return writeFileAtomic(path, data)
	}
	return err
}

// createFile creates path, which must not exist, with data and mode 0644.
// It calls the kernel directly: an *os.File would add two system calls
// (making the descriptor non-blocking, offering it to the poller) to the
// three this takes.
func createFile(path string, data []byte) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return &fs.PathError{Op: "create", Path: path, Err: err}
	}
	err = writeAll(fd, data)
	// Only a umask that takes read bits away needs the extra call.
	if err == nil && umaskOf()&0o644 != 0 {
		err = unix.Fchmod(fd, 0o644)
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		// Gone, the file is made whole on the next try rather than
		// replaced.
		_ = unix.Unlink(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func writeAll(fd int, data []byte) error {
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		data = data[n:]
	}
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// Only a umask that takes read bits away needs the extra write.
	if umaskOf()&0o644 != 0 {
		if err := os.Chmod(tmp, 0o644); err != nil {
			return fmt.Errorf("setting mode of %s: %w", path, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	return nil
}

var (
	umaskOnce  sync.Once
	umaskValue os.FileMode
)

// umaskOf is the process's umask, read once from /proc/self/status (which
// unlike umask(2) leaves it unchanged); when it cannot be read, it counts
// as taking every bit away.
func umaskOf() os.FileMode {
	umaskOnce.Do(func() {
		umaskValue = 0o777
		data, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "Umask:"); ok {
				if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					umaskValue = os.FileMode(m)
				}
				return
			}
		}
	})
	return umaskValue
}
