// Command batchlet is Kubernetes batch in one binary: `batchlet server`
// runs the whole control plane and a node, `batchlet kubectl` is kubectl
// preconfigured for it.
package main

import (
	"fmt"
	"os"

	// First among this binary's own packages: kubectl's translations are
	// loaded only when the process is kubectl.
	_ "github.com/batchlet/batchlet/internal/kubectli18n"
	"github.com/batchlet/batchlet/internal/runtime/process"
	"github.com/batchlet/batchlet/internal/runtime/sandbox"
	// When this binary serves as its own shim, the sandbox init step runs
	// in C before the Go runtime starts, as in batchlet-shim.
	_ "github.com/batchlet/batchlet/internal/runtime/sandbox/isolate/nsinit"
)

func main() {
	// kubectl parses its own flags; hand it the arguments untouched.
	if len(os.Args) > 1 && os.Args[1] == "kubectl" {
		os.Exit(runKubectl(os.Args[2:]))
	}
	// The process runtime re-executes this binary as its supervisor;
	// it must start without touching flags or cobra.
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case process.ShimSubcommand:
			os.Exit(process.ShimMain(os.Args[2:]))
		case sandbox.InitSubcommand:
			os.Exit(sandbox.InitMain(os.Args[2:]))
		}
	}
	tuneGC()
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}
