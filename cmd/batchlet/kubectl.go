package main

import (
	"os"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"

	"github.com/batchlet/batchlet/internal/server"
)

// newKubectlCommand only documents the subcommand: main dispatches
// `batchlet kubectl` before cobra parses anything.
func newKubectlCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "kubectl",
		Short:              "Run kubectl against this machine's batchlet server",
		Long:               "Runs the embedded kubectl. Unless KUBECONFIG or --kubeconfig is given it uses the admin kubeconfig in the data dir ($BATCHLET_DATA_DIR, default " + server.DefaultDataDir() + ").",
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			os.Exit(runKubectl(args))
			return nil
		},
	}
}

func runKubectl(args []string) int {
	if os.Getenv("KUBECONFIG") == "" && !hasKubeconfigFlag(args) {
		dataDir := os.Getenv("BATCHLET_DATA_DIR")
		if dataDir == "" {
			dataDir = server.DefaultDataDir()
		}
		os.Setenv("KUBECONFIG", server.KubeconfigPath(dataDir))
	}
	os.Args = append([]string{"kubectl"}, args...)
	setKubectlVersion()
	command := kubectlcmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
		return 1
	}
	return 0
}

func hasKubeconfigFlag(args []string) bool {
	for _, a := range args {
		if a == "--kubeconfig" || strings.HasPrefix(a, "--kubeconfig=") {
			return true
		}
	}
	return false
}
