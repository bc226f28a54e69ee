package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/batchlet/batchlet/internal/bench"
	"github.com/batchlet/batchlet/internal/runtime/process"
)

func init() { benchSubcommands = append(benchSubcommands, newBenchPodStartCommand) }

func newBenchPodStartCommand() *cobra.Command {
	var count int
	var modes []string
	var shim string
	var hold int
	var noForkServer bool
	cmd := &cobra.Command{
		Use:   "podstart",
		Short: "Container start latency of the process runtime at each level of isolation",
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := bench.PodStartOptions{Count: count, NoForkServer: noForkServer, Hold: hold}
			if shim != "" {
				abs, err := filepath.Abs(shim)
				if err != nil {
					return err
				}
				opts.ShimCommand = []string{abs, process.ShimSubcommand}
			}
			for _, name := range modes {
				m, ok := podStartMode(name)
				if !ok {
					return fmt.Errorf("unknown mode %q", name)
				}
				opts.Modes = append(opts.Modes, m)
			}
			_, err := bench.PodStart(cmd.Context(), cmd.OutOrStdout(), opts)
			return err
		},
	}
	cmd.Flags().IntVar(&count, "count", 200, "containers started per mode")
	cmd.Flags().BoolVar(&noForkServer, "no-fork-server", false, "start an init step process per sandboxed container instead of forking it from the supervisor's fork server")
	cmd.Flags().IntVar(&hold, "hold", 0, "also measure the supervisor's memory with this many containers running at once")
	cmd.Flags().StringSliceVar(&modes, "modes", nil, "modes to measure (default: all)")
	cmd.Flags().StringVar(&shim, "shim", "", "shim binary to use (default: "+process.ShimBinary+" next to this binary, else this binary)")
	return cmd
}

func podStartMode(name string) (bench.PodStartMode, bool) {
	for _, m := range bench.PodStartModes {
		if m.Name == name {
			return m, true
		}
	}
	return bench.PodStartMode{}, false
}
