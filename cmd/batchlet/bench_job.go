package main

import (
	"github.com/spf13/cobra"

	"github.com/batchlet/batchlet/internal/bench"
)

func init() { benchSubcommands = append(benchSubcommands, newBenchJobCommand) }

func newBenchJobCommand() *cobra.Command {
	var opts bench.JobOptions
	cmd := &cobra.Command{
		Use:   "job",
		Short: "Indexed Job pods/s against the bare spawn rate, and Job creation to first container start",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := bench.Job(cmd.Context(), cmd.OutOrStdout(), opts)
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Completions, "completions", 10000, "completions of the throughput Job (and processes of the bare spawn loop)")
	f.IntVar(&opts.Parallelism, "parallelism", 200, "parallelism of the throughput Job (and concurrency of the bare spawn loop)")
	f.IntVar(&opts.LatencyJobs, "latency-jobs", 100, "Jobs created one after another to measure start latency")
	f.StringVar(&opts.DataDir, "data-dir", "", "the in-process server's data dir (default: a temporary one beside the server's default data dir)")
	f.StringVar(&opts.CPUProfile, "cpuprofile", "", "write a CPU profile of the server (this process) during the throughput Job")
	f.BoolVar(&opts.PodStages, "pod-stages", false, "watch pods during the throughput Job and report their stages (costs the server about 3 % CPU)")
	f.IntVar(&opts.MaxPods, "max-pods", 0, "pod capacity of the server's node (default: the parallelism, at least kubelet's 110)")
	f.BoolVar(&opts.BareOneCPU, "bare-one-cpu", false, "also measure the bare spawn loop with every process on CPU 0")
	f.StringVar(&opts.MemProfile, "memprofile", "", "write the server's allocation profiles at the start (FILE.base) and end (FILE) of the throughput Job")
	return cmd
}
