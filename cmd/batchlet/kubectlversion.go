package main

import (
	"runtime/debug"
	"strings"
	_ "unsafe" // go:linkname

	"k8s.io/component-base/version"
)

// kubectl reports the version of k8s.io/component-base/version, which
// release builds of kubectl set with -ldflags -X; a plain `go build`
// leaves a placeholder that `kubectl version` cannot parse. These name
// the variables -X would set.
var (
	//go:linkname kubectlGitVersion k8s.io/component-base/version.gitVersion
	kubectlGitVersion string
	//go:linkname kubectlGitMajor k8s.io/component-base/version.gitMajor
	kubectlGitMajor string
	//go:linkname kubectlGitMinor k8s.io/component-base/version.gitMinor
	kubectlGitMinor string
	//go:linkname kubectlGitTreeState k8s.io/component-base/version.gitTreeState
	kubectlGitTreeState string
	//go:linkname kubectlGitCommit k8s.io/component-base/version.gitCommit
	kubectlGitCommit string
)

// kubectlPlaceholderVersion is what the variables hold without -ldflags.
const kubectlPlaceholderVersion = "v0.0.0-master+$Format:%H$"

// setKubectlVersion gives the embedded kubectl the version of the
// k8s.io/kubectl module it was built from (v0.X.Y is Kubernetes v1.X.Y),
// unless the build set one.
func setKubectlVersion() {
	if kubectlGitVersion != kubectlPlaceholderVersion {
		return
	}
	v, ok := kubectlModuleVersion()
	if !ok {
		return
	}
	kubectlGitVersion, kubectlGitMajor, kubectlGitMinor, kubectlGitTreeState = v.git, v.major, v.minor, "clean"
	kubectlGitCommit = ""
	// Get() reads the dynamic copy, taken at init from the placeholder.
	_ = version.SetDynamicVersion(v.git)
}

type kubeVersion struct{ git, major, minor string }

func kubectlModuleVersion() (kubeVersion, bool) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return kubeVersion{}, false
	}
	for _, m := range info.Deps {
		if m.Path == "k8s.io/kubectl" {
			return kubeVersionOfModule(m.Version)
		}
	}
	return kubeVersion{}, false
}

// kubeVersionOfModule maps a staging module version (v0.34.2) to the
// Kubernetes release it comes from (v1.34.2).
func kubeVersionOfModule(mod string) (kubeVersion, bool) {
	rest, ok := strings.CutPrefix(mod, "v0.")
	if !ok {
		return kubeVersion{}, false
	}
	minor, _, ok := strings.Cut(rest, ".")
	if !ok || minor == "" || minor == "0" || strings.Trim(minor, "0123456789") != "" {
		return kubeVersion{}, false
	}
	return kubeVersion{git: "v1." + rest, major: "1", minor: minor}, true
}
