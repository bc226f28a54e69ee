// Package kubectli18n keeps kubectl's message catalogue out of every
// process but kubectl's own.
//
// The kubectl packages linked into the batchlet binary translate their
// help texts while they initialise, and the first translation unpacks the
// whole catalogue: about 50 ms of CPU at the start of every batchlet
// process — server, agent and shims alike — for text only `batchlet
// kubectl` ever prints. Imported before those packages (package
// initialisation runs in import-path order once dependencies are met, and
// this package depends on nothing but kubectl's i18n), it replaces the
// loader with one that loads the catalogue only when the process is
// kubectl; elsewhere the English defaults are used as written.
package kubectli18n

import (
	"os"
	"path/filepath"

	"k8s.io/kubectl/pkg/util/i18n"
)

func init() {
	// Only fails once translations are loaded, which cannot have
	// happened before this package's initialisation.
	_ = i18n.SetLoadTranslationsFunc(load)
}

func load() error {
	if !IsKubectl(os.Args) {
		return nil
	}
	return i18n.LoadTranslations("kubectl", nil)
}

// IsKubectl reports whether a process with these arguments runs kubectl:
// `batchlet kubectl ...`, or the binary invoked under the name kubectl.
func IsKubectl(args []string) bool {
	if len(args) == 0 {
		return false
	}
	if filepath.Base(args[0]) == "kubectl" {
		return true
	}
	return len(args) > 1 && args[1] == "kubectl"
}
