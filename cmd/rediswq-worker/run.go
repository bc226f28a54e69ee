package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/batchlet/batchlet/pkg/workqueue"
	"github.com/batchlet/batchlet/pkg/workqueue/resp"
)

// run is the whole command, returning its exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "rediswq-worker:", err)
		return 2
	}
	client := resp.NewClient(resp.Options{Addr: cfg.addr, Password: cfg.password, DB: cfg.db})
	defer client.Close()
	w := &worker{
		q:        workqueue.New(client, cfg.queue, workqueue.Options{}),
		cfg:      cfg,
		process:  processor(cfg, stdout, stderr),
		stdout:   stdout,
		stderr:   stderr,
		backoff:  500 * time.Millisecond,
		maxDelay: 5 * time.Second,
	}
	if err := w.run(ctx); err != nil {
		fmt.Fprintln(stderr, "rediswq-worker:", err)
		return 1
	}
	return 0
}
