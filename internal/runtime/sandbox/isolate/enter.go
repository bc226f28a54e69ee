package isolate

import "strconv"

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
