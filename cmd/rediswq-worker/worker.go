package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/batchlet/batchlet/pkg/workqueue"
)

// worker runs the tutorial's loop: while the queue is not empty, lease an
// item, process it and complete it.
type worker struct {
	q        *workqueue.Queue
	cfg      config
	process  func(ctx context.Context, item []byte) error
	stdout   io.Writer
	stderr   io.Writer
	backoff  time.Duration
	maxDelay time.Duration
}

func (w *worker) run(ctx context.Context) error {
	fmt.Fprintf(w.stdout, "Worker with sessionID: %s\n", w.q.SessionID())
	empty, err := w.empty(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w.stdout, "Initial queue state: empty=%s\n", pyBool(empty))
	for !empty {
		var item []byte
		err := w.retry(ctx, func() (err error) {
			item, err = w.q.Lease(ctx, w.cfg.lease, w.cfg.wait)
			return err
		})
		if err != nil {
			return err
		}
		if item == nil {
			fmt.Fprintln(w.stdout, "Waiting for work")
		} else if err := w.handle(ctx, item); err != nil {
			return err
		}
		if empty, err = w.empty(ctx); err != nil {
			return err
		}
	}
	fmt.Fprintln(w.stdout, "Queue empty, exiting")
	return nil
}

// handle processes one leased item, keeping its lease alive meanwhile. A
// failed item is left leased: it returns to the queue when the lease lapses.
func (w *worker) handle(ctx context.Context, item []byte) error {
	fmt.Fprintf(w.stdout, "Working on %s\n", printable(item))
	workCtx, cancel := context.WithCancel(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		w.keepLease(workCtx, item)
	}()
	err := w.process(workCtx, item)
	cancel()
	<-renewed
	if err != nil {
		return fmt.Errorf("processing %s: %w", printable(item), err)
	}
	err = w.retry(ctx, func() error { return w.q.Complete(ctx, item) })
	if errors.Is(err, workqueue.ErrLeaseLost) {
		fmt.Fprintf(w.stderr, "Lease on %s expired before it was completed; it may be processed again\n", printable(item))
		return nil
	}
	return err
}

// keepLease renews the lease at half its duration until ctx ends.
func (w *worker) keepLease(ctx context.Context, item []byte) {
	t := time.NewTicker(w.cfg.lease / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := w.q.Renew(ctx, item, w.cfg.lease); err != nil && ctx.Err() == nil {
				fmt.Fprintf(w.stderr, "Renewing the lease on %s: %v\n", printable(item), err)
			}
		}
	}
}

func (w *worker) empty(ctx context.Context) (bool, error) {
	var empty bool
	err := w.retry(ctx, func() (err error) {
		empty, err = w.q.Empty(ctx)
		return err
	})
	return empty, err
}

// retry calls op until it succeeds, fails with ErrLeaseLost, or has kept
// failing for cfg.retryFor, so that a Redis restart does not fail the pod.
func (w *worker) retry(ctx context.Context, op func() error) error {
	start := time.Now()
	delay := w.backoff
	for {
		err := op()
		if err == nil || errors.Is(err, workqueue.ErrLeaseLost) || ctx.Err() != nil {
			return err
		}
		if time.Since(start) >= w.cfg.retryFor {
			return err
		}
		fmt.Fprintf(w.stderr, "%v; retrying in %v\n", err, delay)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, w.maxDelay)
	}
}

// pyBool spells a boolean as the tutorial's Python worker prints it.
func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// printable returns text items as they are and quotes binary ones.
func printable(item []byte) string {
	if utf8.Valid(item) {
		return string(item)
	}
	return strconv.Quote(string(item))
}
