package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// processor returns how one item is processed: the configured command, or
// the tutorial's stand-in of sleeping for cfg.workTime.
func processor(cfg config, stdout, stderr io.Writer) func(context.Context, []byte) error {
	if len(cfg.command) == 0 {
		return func(ctx context.Context, _ []byte) error {
			t := time.NewTimer(cfg.workTime)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	return func(ctx context.Context, item []byte) error {
		cmd := exec.CommandContext(ctx, cfg.command[0], cfg.command[1:]...)
		cmd.Stdin = bytes.NewReader(item)
		cmd.Stdout, cmd.Stderr = stdout, stderr
		cmd.Env = os.Environ()
		// An environment variable cannot hold a NUL byte; such items are
		// only on standard input.
		if bytes.IndexByte(item, 0) < 0 {
			cmd.Env = append(cmd.Env, "WORK_ITEM="+string(item))
		}
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("command %q: %w", cfg.command[0], err)
		}
		return nil
	}
}
