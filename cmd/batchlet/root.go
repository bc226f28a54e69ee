package main

import (
	"github.com/spf13/cobra"

	"github.com/batchlet/batchlet/internal/version"
)

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "batchlet",
		Short:         "Kubernetes Jobs and CronJobs in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServerCommand(), newAgentCommand(), newKubectlCommand(), newVersionCommand(), newBenchCommand())
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run: func(cmd *cobra.Command, _ []string) {
			v := version.Get()
			cmd.Printf("batchlet %s (Kubernetes API %s.%s, %s)\n", version.Batchlet, v.Major, v.Minor, v.GoVersion)
		},
	}
}
