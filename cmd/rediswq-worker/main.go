// Command rediswq-worker is the worker of the fine-parallel work-queue
// tutorial: it leases items from a Redis list, processes each one, completes
// it, and exits 0 once the queue is empty.
//
//	rediswq-worker [flags] [-- command [args...]]
//
// Without a command, processing an item means printing it and sleeping
// -work-time, like the tutorial's worker.py. With one, the command runs once
// per item, with the item on its standard input and in $WORK_ITEM.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
