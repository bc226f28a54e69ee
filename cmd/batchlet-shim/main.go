// Command batchlet-shim is the small supervisor of batchlet's process
// runtime: one long-lived process per node that starts the containers,
// records their output and exit status, and outlives the agent. `batchlet`
// can act as its own shim, but it is a far larger binary; installed next
// to `batchlet`, this one is used instead.
//
// Started as the sandbox init step, the shim never reaches main: package
// nsinit's C code sets the sandbox up and execs the container before the
// Go runtime starts.
package main

import (
	"fmt"
	"os"

	"github.com/batchlet/batchlet/internal/runtime/process"
	"github.com/batchlet/batchlet/internal/runtime/sandbox/isolate"
	_ "github.com/batchlet/batchlet/internal/runtime/sandbox/isolate/nsinit"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintf(os.Stderr, "usage: %s %s|%s ...\n", os.Args[0], process.ShimSubcommand, isolate.InitSubcommand)
		os.Exit(2)
	}
	switch os.Args[1] {
	case process.ShimSubcommand:
		os.Exit(process.ShimMain(os.Args[2:]))
	case isolate.InitSubcommand:
		// Only reached if the C init step returned, which it never does.
		os.Exit(isolate.InitMain(os.Args[2:]))
	default:
		fmt.Fprintf(os.Stderr, "%s: unknown subcommand %q\n", os.Args[0], os.Args[1])
		os.Exit(2)
	}
}
