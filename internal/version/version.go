// Package version reports batchlet's version in the shape of Kubernetes'
// /version endpoint.
package version

import (
	"fmt"
	"runtime"

	apimachineryversion "k8s.io/apimachinery/pkg/version"
)

// Kubernetes API level served: the k8s.io/api release the types come from.
// kubectl's version dispatcher keys on the minor number.
const (
	kubeMajor = "1"
	kubeMinor = "34"
	kubePatch = "2"
)

// Batchlet is the project's own version; set at build time with
// -ldflags "-X github.com/batchlet/batchlet/internal/version.Batchlet=...".
var Batchlet = "0.1.0-dev"

// GitCommit is set at build time when known.
var GitCommit = ""

// Get returns the /version document.
func Get() apimachineryversion.Info {
	return apimachineryversion.Info{
		Major:        kubeMajor,
		Minor:        kubeMinor,
		GitVersion:   fmt.Sprintf("v%s.%s.%s+batchlet-%s", kubeMajor, kubeMinor, kubePatch, Batchlet),
		GitCommit:    GitCommit,
		GitTreeState: "clean",
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
	}
}
