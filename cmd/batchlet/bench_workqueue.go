package main

import (
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/batchlet/batchlet/internal/bench"
)

func init() { benchSubcommands = append(benchSubcommands, newBenchWorkQueueCommand) }

func newBenchWorkQueueCommand() *cobra.Command {
	var opts bench.WorkQueueOptions
	cmd := &cobra.Command{
		Use:   "workqueue",
		Short: "Redis work-queue items/s: a Job of rediswq-worker pods against the same workers run directly",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Worker == "" {
				opts.Worker = defaultWorker()
			}
			_, err := bench.WorkQueue(cmd.Context(), cmd.OutOrStdout(), opts)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Worker, "worker", "", "the rediswq-worker binary (default: next to this binary, else on PATH)")
	f.IntVar(&opts.Items, "items", 10000, "work items per run")
	f.IntVar(&opts.Parallelism, "parallelism", 8, "workers (host processes, and the Job's parallelism)")
	f.IntVar(&opts.Runs, "runs", 3, "runs of each mode")
	f.StringVar(&opts.DataDir, "data-dir", "", "the in-process server's data dir (default: a temporary one beside the server's default data dir)")
	return cmd
}

// defaultWorker finds rediswq-worker next to this binary, then on PATH.
func defaultWorker() string {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "rediswq-worker")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("rediswq-worker"); err == nil {
		return p
	}
	return ""
}
