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

	"golang.org/x/sys/unix"
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
	logPath string // the server's stderr
}

// failed wraps err with the end of the server's log: a request that
// fails mid-benchmark usually means the server did.
func (p *serverProcess) failed(err error) error {
	data, rerr := os.ReadFile(p.logPath)
	if rerr != nil || len(data) == 0 {
		return err
	}
	// A crash report starts where the runtime says why; else the end.
	const most = 4000
	start := len(data) - most
	for _, mark := range []string{"fatal error:", "panic:", "unexpected signal"} {
		if i := strings.Index(string(data), mark); i >= 0 {
			start = i
			break
		}
	}
	start = max(start, 0)
	return fmt.Errorf("%w\nserver log:\n%s", err, data[start:min(len(data), start+most)])
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
	// The server's own log, for when it fails under the harness.
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, 0, err
	}
	logPath := filepath.Join(filepath.Dir(dataDir), filepath.Base(dataDir)+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, 0, err
	}
	defer logFile.Close()
	cmd.Stderr = logFile
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
		return &serverProcess{cmd: cmd, dataDir: dataDir, logPath: logPath}, time.Since(start), nil
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

// memory is a process's resident set, split as the kernel accounts it.
type memory struct {
	rss, anon, file int64 // bytes
}

// residentMemory reads VmRSS, RssAnon and RssFile of a process. File
// pages are the binary's code and read-only data: page cache shared with
// every other process of the same binary and reclaimable; anonymous pages
// are what the process alone holds (heap, stacks).
func residentMemory(pid int) (memory, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	var m memory
	fields := map[string]*int64{"VmRSS:": &m.rss, "RssAnon:": &m.anon, "RssFile:": &m.file}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || fields[f[0]] == nil {
			continue
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("/proc/%d/status %s: %w", pid, f[0], err)
		}
		*fields[f[0]] = kb * 1024
	}
	if m.rss == 0 {
		return memory{}, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return m, nil
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
	root, err := tempDir("batchlet-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	// The servers run from a copy of the binary: this harness maps the
	// same file, and pages two processes map are counted in both RSSs
	// and are not the server's to give back.
	binary, err := copyExecutable(opts.Binary, filepath.Join(root, "batchlet"))
	if err != nil {
		return err
	}
	var first, restart Durations
	var rss, anon, file Floats
	for i := 0; i < opts.Runs; i++ {
		dir := filepath.Join(root, strconv.Itoa(i))
		p, d, err := startServer(ctx, binary, dir)
		if err != nil {
			return err
		}
		first = append(first, d)
		p.stop()
		p, d, err = startServer(ctx, binary, dir)
		if err != nil {
			return err
		}
		restart = append(restart, d)
		time.Sleep(opts.Idle) // let start-up garbage be collected before reading RSS
		m, err := residentMemory(p.cmd.Process.Pid)
		p.stop()
		if err != nil {
			return err
		}
		rss = append(rss, float64(m.rss)/(1<<20))
		anon = append(anon, float64(m.anon)/(1<<20))
		file = append(file, float64(m.file)/(1<<20))
	}
	report(w, "cold start to ready, fresh data dir: median %s, max %s (%d runs)", ms(first.Median()), ms(first.Percentile(100)), len(first))
	report(w, "start to ready, existing data dir:   median %s, max %s", ms(restart.Median()), ms(restart.Percentile(100)))
	report(w, "idle RSS after %s: median %.1f MiB (anonymous %.1f MiB, file-backed %.1f MiB)", opts.Idle, rss.Median(), anon.Median(), file.Median())
	return nil
}

// copyExecutable copies the binary at src to dst, executable.
func copyExecutable(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("copying the binary: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return "", fmt.Errorf("copying the binary: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return "", fmt.Errorf("copying the binary to %s: %w", dst, err)
	}
	// Written pages sit in the page cache as the writes made them; read
	// back from disk, as any installed binary is, the page cache holds
	// the file in large folios, which start-up maps far fewer faults.
	if err := out.Sync(); err != nil {
		out.Close()
		return "", fmt.Errorf("copying the binary to %s: %w", dst, err)
	}
	if err := unix.Fadvise(int(out.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		out.Close()
		return "", fmt.Errorf("dropping the cached copy of %s: %w", dst, err)
	}
	if err := out.Close(); err != nil {
		return "", fmt.Errorf("copying the binary to %s: %w", dst, err)
	}
	return dst, nil
}
