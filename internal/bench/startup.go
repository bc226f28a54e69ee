package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StartupOptions configures the cold-start benchmark.
type StartupOptions struct {
	Binary string        // the batchlet binary
	Runs   int           // server starts per measurement
	Idle   time.Duration // how long to let the server idle before reading RSS
}

// serverProcess is a `batchlet server` child.
type serverProcess struct {
	cmd     *exec.Cmd
	dataDir string
}

// startServer starts a server on a fresh port and returns once it prints
// its ready line, with the time that took.
func startServer(ctx context.Context, binary, dataDir string) (*serverProcess, time.Duration, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.CommandContext(ctx, binary, "server", "--data-dir", dataDir, "--listen", "127.0.0.1:"+strconv.Itoa(port), "--node-name", "bench-node")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, 0, err
	}
	cmd.Stderr = io.Discard
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, 0, fmt.Errorf("starting %s: %w", binary, err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		closed := false
		for sc.Scan() {
			if !closed && strings.Contains(sc.Text(), "ready in") {
				close(ready)
				closed = true
			}
		}
	}()
	select {
	case <-ready:
		return &serverProcess{cmd: cmd, dataDir: dataDir}, time.Since(start), nil
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return nil, 0, fmt.Errorf("server not ready within 60s")
	}
}

func (p *serverProcess) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// rssBytes reads the resident set size of a process.
func rssBytes(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, err := strconv.ParseInt(f[1], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// Startup measures time from exec to ready (fresh data dir: first start
// creates the CA and etcd; then a restart on the same data dir) and the
// idle RSS.
func Startup(ctx context.Context, w io.Writer, opts StartupOptions) error {
	if opts.Runs <= 0 {
		opts.Runs = 5
	}
	if opts.Idle <= 0 {
		opts.Idle = 5 * time.Second
	}
	root, err := os.MkdirTemp("", "batchlet-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	var first, restart Durations
	var rss Floats
	for i := 0; i < opts.Runs; i++ {
		dir := filepath.Join(root, strconv.Itoa(i))
		p, d, err := startServer(ctx, opts.Binary, dir)
		if err != nil {
			return err
		}
		first = append(first, d)
		p.stop()
		p, d, err = startServer(ctx, opts.Binary, dir)
		if err != nil {
			return err
		}
		restart = append(restart, d)
		time.Sleep(opts.Idle) // let start-up garbage be collected before reading RSS
		b, err := rssBytes(p.cmd.Process.Pid)
		p.stop()
		if err != nil {
			return err
		}
		rss = append(rss, float64(b)/(1<<20))
	}
	report(w, "cold start to ready, fresh data dir: median %s, max %s (%d runs)", ms(first.Median()), ms(first.Percentile(100)), len(first))
	report(w, "start to ready, existing data dir:   median %s, max %s", ms(restart.Median()), ms(restart.Percentile(100)))
	report(w, "idle RSS after %s: median %.1f MiB", opts.Idle, rss.Median())
	return nil
}
