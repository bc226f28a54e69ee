package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/batchlet/batchlet/internal/testutil"
	"github.com/batchlet/batchlet/pkg/workqueue/redistest"
	"github.com/batchlet/batchlet/pkg/workqueue/resp"
)

var fruits = []string{"apple", "banana", "cherry", "date", "fig", "grape", "lemon", "melon", "orange"}

func redisDo(t *testing.T, addr string, args ...any) resp.Value {
	t.Helper()
	c := resp.NewClient(resp.Options{Addr: addr})
	defer c.Close()
	v, err := c.Do(context.Background(), args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return v
}

func pushFruits(t *testing.T, addr string) {
	args := []any{"RPUSH", "job2"}
	for _, f := range fruits {
		args = append(args, f)
	}
	redisDo(t, addr, args...)
}

// workedOn returns the items a worker's output says it processed.
func workedOn(out string) []string {
	var items []string
	for _, line := range strings.Split(out, "\n") {
		if item, ok := strings.CutPrefix(line, "Working on "); ok {
			items = append(items, item)
		}
	}
	return items
}

func TestWorkersDrainQueue(t *testing.T) {
	srv := redistest.Start(t)
	pushFruits(t, srv.Addr)
	outs := make([]*testutil.SyncBuffer, 3)
	codes := make([]int, 3)
	var wg sync.WaitGroup
	for i := range outs {
		outs[i] = &testutil.SyncBuffer{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := []string{"-redis", srv.Addr, "-wait", "1", "-work-time", "10ms"}
			codes[i] = run(context.Background(), args, mapEnv(nil), outs[i], &testutil.SyncBuffer{})
		}()
	}
	wg.Wait()
	var all []string
	for i, out := range outs {
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if codes[i] != 0 {
			t.Errorf("worker %d exited %d", i, codes[i])
		}
		if !strings.HasPrefix(lines[0], "Worker with sessionID: ") || len(lines[0]) != len("Worker with sessionID: ")+36 {
			t.Errorf("worker %d first line %q", i, lines[0])
		}
		if len(lines) < 3 || lines[len(lines)-1] != "Queue empty, exiting" {
			t.Errorf("worker %d output does not end with the exit line:\n%s", i, out)
		}
		all = append(all, workedOn(out.String())...)
	}
	sort.Strings(all)
	if fmt.Sprint(all) != fmt.Sprint(fruits) {
		t.Fatalf("workers processed %v, want each of %v once", all, fruits)
	}
}

func TestWorkerOnEmptyQueue(t *testing.T) {
	srv := redistest.Start(t)
	var out testutil.SyncBuffer
	if code := run(context.Background(), []string{"-redis", srv.Addr}, mapEnv(nil), &out, &testutil.SyncBuffer{}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || lines[1] != "Initial queue state: empty=True" || lines[2] != "Queue empty, exiting" {
		t.Fatalf("output:\n%s", out.String())
	}
}

func TestWorkerRunsCommandPerItem(t *testing.T) {
	srv := redistest.Start(t)
	redisDo(t, srv.Addr, "RPUSH", "q", "one", "two")
	file := filepath.Join(t.TempDir(), "done")
	var out, errOut testutil.SyncBuffer
	args := []string{"-redis", srv.Addr, "-queue", "q", "-wait", "0",
		"--", "sh", "-c", `read -r line; printf '%s=%s\n' "$WORK_ITEM" "$line" >> ` + file}
	if code := run(context.Background(), args, mapEnv(nil), &out, &errOut); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut.String())
	}
	got, err := os.ReadFile(file)
	if err != nil || string(got) != "one=one\ntwo=two\n" {
		t.Fatalf("command saw %q, %v", got, err)
	}
}

func TestWorkerFailsOnCommandFailureAndLeavesItem(t *testing.T) {
	srv := redistest.Start(t)
	redisDo(t, srv.Addr, "RPUSH", "job2", "bad")
	args := []string{"-redis", srv.Addr, "--", "false"}
	if code := run(context.Background(), args, mapEnv(nil), &testutil.SyncBuffer{}, &testutil.SyncBuffer{}); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	// The item stays leased, to come back when the lease lapses.
	if n := redisDo(t, srv.Addr, "LLEN", "job2:processing").Int; n != 1 {
		t.Fatalf("processing list holds %d items, want 1", n)
	}
}

func TestWorkerKeepsLeaseWhileWorking(t *testing.T) {
	srv := redistest.Start(t)
	redisDo(t, srv.Addr, "RPUSH", "job2", "slow")
	// Work lasts several lease periods; renewal must keep the other worker
	// from taking the item over.
	outs := []*testutil.SyncBuffer{{}, {}}
	var wg sync.WaitGroup
	for i, out := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := []string{"-redis", srv.Addr, "-lease", "1", "-wait", "1", "-work-time", "2500ms"}
			if code := run(context.Background(), args, mapEnv(nil), out, &testutil.SyncBuffer{}); code != 0 {
				t.Errorf("worker %d exited %d", i, code)
			}
		}()
	}
	wg.Wait()
	if got := append(workedOn(outs[0].String()), workedOn(outs[1].String())...); fmt.Sprint(got) != "[slow]" {
		t.Fatalf("processed %v, want [slow] once", got)
	}
}

func TestKilledWorkerProcessItemIsRedone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the worker binary")
	}
	srv := redistest.Start(t)
	redisDo(t, srv.Addr, "RPUSH", "job2", "apple", "banana")
	bin := filepath.Join(t.TempDir(), "rediswq-worker")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	env := append(os.Environ(), "REDIS_HOST="+srv.Addr)

	// The first worker leases apple and is killed while working on it.
	var deadOut testutil.SyncBuffer
	dead := exec.Command(bin, "-lease", "1", "-work-time", "1h")
	dead.Env, dead.Stdout = env, &deadOut
	if err := dead.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(deadOut.String(), "Working on apple") {
		if time.Now().After(deadline) {
			_ = dead.Process.Kill()
			t.Fatalf("first worker never started on apple:\n%s", deadOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = dead.Process.Signal(syscall.SIGKILL)
	_ = dead.Wait()

	// The second worker finishes the queue, apple included once its lease lapses.
	live := exec.Command(bin, "-lease", "1", "-wait", "1", "-work-time", "0s")
	live.Env = env
	out, err := live.Output()
	if err != nil {
		t.Fatalf("second worker: %v\n%s", err, out)
	}
	got := workedOn(string(out))
	sort.Strings(got)
	if fmt.Sprint(got) != "[apple banana]" {
		t.Fatalf("second worker processed %v, want [apple banana]:\n%s", got, out)
	}
	if !strings.Contains(string(out), "Initial queue state: empty=False\n") ||
		!strings.HasSuffix(string(out), "Queue empty, exiting\n") {
		t.Fatalf("unexpected output:\n%s", out)
	}
}

func TestWorkerRidesOutRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	redisDo(t, srv.Addr, "RPUSH", "job2", "a")
	gate := filepath.Join(t.TempDir(), "go")
	var out, errOut testutil.SyncBuffer
	done := make(chan int, 1)
	go func() {
		// Each item's work waits until the gate file exists.
		args := []string{"-redis", srv.Addr, "-wait", "1", "--", "sh", "-c",
			"while [ ! -e " + gate + " ]; do sleep 0.05; done; echo done $WORK_ITEM"}
		done <- run(context.Background(), args, mapEnv(nil), &out, &errOut)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "Working on a") {
		if time.Now().After(deadline) {
			t.Fatalf("worker never started on a:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Redis restarts empty while a is being worked on; new work arrives.
	srv.Restart(t)
	redisDo(t, srv.Addr, "RPUSH", "job2", "b")
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("worker did not finish:\n%s\n%s", out.String(), errOut.String())
	}
	if got := workedOn(out.String()); fmt.Sprint(got) != "[a b]" {
		t.Fatalf("processed %v, want [a b]:\n%s", got, out.String())
	}
	if !strings.Contains(errOut.String(), "Lease on a expired") {
		t.Errorf("no lost-lease notice for a on stderr:\n%s", errOut.String())
	}
}
