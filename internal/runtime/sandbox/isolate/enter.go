package isolate

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// EnterArgv is the command line that runs argv inside the namespaces (network included)
// of a sandboxed container whose process has host PID pid (kubectl exec). It
// uses util-linux nsenter, which forks so the command joins the PID
// namespace, and takes the container's root and, when dir is empty, its
// working directory.
func EnterArgv(pid int, dir string, argv []string) []string {
	wd := "--wd"
	if dir != "" {
		wd = "--wd=" + dir
	}
	out := []string{"nsenter", "--target", strconv.Itoa(pid), "--mount", "--uts", "--ipc", "--net", "--pid", "--root", wd, "--"}
	return append(out, argv...)
}

// CapabilitiesArgv is the command line that runs argv with the capability
// set caps (bit n for capability n), as the init step confines the
// container's own command: util-linux setpriv limits the bounding set and
// empties the inheritable and ambient sets, so the command, run as root,
// gets what the bounding set holds. An exec session then has the
// container's capabilities, as under runc. A set holding every capability
// of the kernel leaves argv as it is.
func CapabilitiesArgv(caps uint64, argv []string) []string {
	last := lastCapability()
	var keep strings.Builder
	keep.WriteString("--bounding-set=-all")
	all := true
	for c := 0; c <= last && c < 64; c++ {
		if caps&(1<<c) == 0 {
			all = false
			continue
		}
		keep.WriteString(",+cap_")
		keep.WriteString(strconv.Itoa(c))
	}
	if all {
		return argv
	}
	out := []string{setprivPath(), keep.String(), "--inh-caps=-all", "--ambient-caps=-all", "--"}
	return append(out, argv...)
}

// setprivPath is util-linux setpriv on the host, by absolute path: the
// container's PATH may find another one first (BusyBox's has no
// --bounding-set), and the container's view of the filesystem is the
// host's, so the host's path holds there too.
var setprivPath = sync.OnceValue(func() string {
	for _, p := range []string{"/usr/bin/setpriv", "/bin/setpriv"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	if p, err := exec.LookPath("setpriv"); err == nil {
		return p
	}
	return "setpriv"
})

// lastCapability is the kernel's highest capability number: setpriv
// refuses names beyond it.
var lastCapability = sync.OnceValue(func() int {
	data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 40 // CAP_CHECKPOINT_RESTORE, the last one of Linux 5.9 on
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || n < 0 {
		return 40
	}
	return n
})
