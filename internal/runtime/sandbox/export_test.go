package sandbox

import (
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
)

// WriteEtcFilesByRename writes the files as WriteEtcFiles did before it
// created new files in place: the directory made sure of, then a temporary
// file and a rename each. For comparison in benchmarks.
func WriteEtcFilesByRename(pod *corev1.Pod, dir string, f EtcFiles) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, data := range map[string][]byte{
		"hosts":       HostsFile(pod, f.PodIPs, f.ClusterDomain),
		"hostname":    []byte(UTSHostname(pod, f.ClusterDomain) + "\n"),
		"resolv.conf": f.ResolvConf,
	} {
		if err := writeFileAtomic(filepath.Join(dir, name), data); err != nil {
			return err
		}
	}
	return nil
}
