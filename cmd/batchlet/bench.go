package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/batchlet/batchlet/internal/bench"
)

// benchSubcommands are added by the files that define more harnesses
// (bench_<name>.go), each registering itself in an init function.
var benchSubcommands []func() *cobra.Command

func newBenchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:    "bench",
		Short:  "Measure this binary (results in BENCHMARKS.md are made with it)",
		Hidden: true,
	}
	var runs int
	var idle time.Duration
	startup := &cobra.Command{
		Use:   "startup",
		Short: "Cold start to ready and idle RSS of `batchlet server`",
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			return bench.Startup(cmd.Context(), cmd.OutOrStdout(), bench.StartupOptions{Binary: self, Runs: runs, Idle: idle})
		},
	}
	startup.Flags().IntVar(&runs, "runs", 5, "server starts to measure")
	startup.Flags().DurationVar(&idle, "idle", 5*time.Second, "idle time before reading RSS")

	var clients []int
	var count int
	var protobuf bool
	api := &cobra.Command{
		Use:   "api",
		Short: "Create and get throughput through client-go at several concurrencies",
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			opts := bench.APIOptions{Binary: self, Clients: clients, Count: count, Runs: runs}
			if protobuf {
				opts.ContentType = "application/vnd.kubernetes.protobuf"
			}
			return bench.API(cmd.Context(), cmd.OutOrStdout(), opts)
		},
	}
	api.Flags().IntSliceVar(&clients, "clients", []int{1, 16}, "concurrency levels")
	api.Flags().IntVar(&count, "count", 2000, "objects per level and run")
	api.Flags().IntVar(&runs, "runs", 3, "runs per level")
	api.Flags().BoolVar(&protobuf, "protobuf", false, "use protobuf instead of JSON")
	cmd.AddCommand(startup, api)
	for _, sub := range benchSubcommands {
		cmd.AddCommand(sub())
	}
	return cmd
}
