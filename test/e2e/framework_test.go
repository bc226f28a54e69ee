package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The end-to-end tests drive the built batchlet binary with the real
// kubectl, as a user does. BATCHLET_BIN names a prebuilt binary; otherwise
// TestMain builds one. KUBECTL names the kubectl to use (default
// /usr/bin/kubectl).

var (
	batchletBin string
	kubectlBin  = "/usr/bin/kubectl"
	shared      *cluster // one server for the tests that can share it
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if k := os.Getenv("KUBECTL"); k != "" {
		kubectlBin = k
	}
	if _, err := os.Stat(kubectlBin); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: kubectl not found at %s: %v\n", kubectlBin, err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "batchlet-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	batchletBin = os.Getenv("BATCHLET_BIN")
	if batchletBin == "" {
		batchletBin = filepath.Join(tmp, "batchlet")
		build := exec.Command("go", "build", "-o", tmp+"/", "../../cmd/batchlet", "../../cmd/batchlet-shim", "../../cmd/rediswq-worker")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: building batchlet:", err)
			return 1
		}
	}
	c, err := startCluster(filepath.Join(tmp, "shared"), withServiceProxy)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	shared = c
	code := m.Run()
	c.stop()
	// Pod processes outlive a stopped server by design (their shims keep
	// them); the suite must not leave any behind on the machine.
	reapShims(filepath.Join(filepath.Dir(batchletBin), "batchlet-shim"), batchletBin)
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e: server log tail:\n%s\n", c.logTail(80))
	}
	return code
}

// cluster is one `batchlet server` process.
type cluster struct {
	dataDir    string
	kubeconfig string
	cacheDir   string
	cmd        *exec.Cmd
	logMu      sync.Mutex
	log        bytes.Buffer
	exited     chan struct{}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// withServiceProxy lets a cluster run the ClusterIP proxy. Only the shared
// cluster does: proxies of two servers on one host would fight over the
// same addresses.
const withServiceProxy = "with-service-proxy"

func startCluster(dataDir string, opts ...string) (*cluster, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	return startClusterOn(dataDir, port, opts...)
}

func startClusterOn(dataDir string, port int, opts ...string) (*cluster, error) {
	c := &cluster{dataDir: dataDir, kubeconfig: filepath.Join(dataDir, "kubeconfig"), cacheDir: filepath.Join(dataDir, "kubectl-cache"), exited: make(chan struct{})}
	args := []string{"server", "--data-dir", dataDir, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--node-name", "e2e-node"}
	proxy := false
	for _, o := range opts {
		proxy = proxy || o == withServiceProxy
		if strings.HasPrefix(o, "--") {
			// Server flags; given after the defaults, they override them.
			args = append(args, o)
		}
	}
	if !proxy {
		args = append(args, "--disable-service-proxy")
	}
	c.cmd = exec.Command(batchletBin, args...)
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.cmd.Stderr = writerFunc(c.appendLog)
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting batchlet server: %w", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			c.appendLog([]byte(line + "\n"))
			if strings.Contains(line, "ready in") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	go func() { c.cmd.Wait(); close(c.exited) }()
	select {
	case <-ready:
		return c, nil
	case <-c.exited:
		return nil, fmt.Errorf("batchlet server exited before ready:\n%s", c.logTail(40))
	case <-time.After(60 * time.Second):
		c.stop()
		return nil, fmt.Errorf("batchlet server not ready in 60s:\n%s", c.logTail(40))
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

func (c *cluster) appendLog(p []byte) {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	c.log.Write(p)
}

func (c *cluster) logTail(lines int) string {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	all := strings.Split(c.log.String(), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// stop ends the server with SIGTERM (SIGKILL after 10 s).
func (c *cluster) stop() {
	if c.cmd.Process == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
}

// kill ends the server with SIGKILL, as a crash would.
func (c *cluster) kill() {
	c.cmd.Process.Kill()
	<-c.exited
}

// kubectl runs the real kubectl against the cluster and returns stdout.
func (c *cluster) kubectl(t testing.TB, args ...string) (string, error) {
	t.Helper()
	return c.kubectlIn(t, "", args...)
}

func (c *cluster) kubectlIn(t testing.TB, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kubectlDeadline(args))
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectlBin, append([]string{"--cache-dir", c.cacheDir}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %v\nstderr: %s\nstdout: %s", strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	return stdout.String(), nil
}

// kubectlStream is a kubectl run whose output is read as it comes:
// get --watch, logs -f, attach.
type kubectlStream struct {
	*bufio.Scanner
	cmd    *exec.Cmd
	cancel context.CancelFunc
}

// kubectlStream starts kubectl; it is killed after timeout, by stop, or
// at the end of the test.
func (c *cluster) kubectlStream(t testing.TB, timeout time.Duration, args ...string) *kubectlStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd := exec.CommandContext(ctx, kubectlBin, append([]string{"--cache-dir", c.cacheDir}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	s := &kubectlStream{Scanner: bufio.NewScanner(stdout), cmd: cmd, cancel: cancel}
	t.Cleanup(s.stop)
	return s
}

// Wait waits for kubectl to end by itself and returns how it ended.
func (s *kubectlStream) Wait() error {
	defer s.cancel()
	return s.cmd.Wait()
}

// stop kills kubectl if it still runs.
func (s *kubectlStream) stop() {
	s.cancel()
	_ = s.cmd.Wait()
}

// kubectlDeadline is how long a kubectl run may take before the test kills
// it: three minutes, or a minute past the --timeout it was given (kubectl
// wait, delete, rollout), so that kubectl's own timeout is what reports.
func kubectlDeadline(args []string) time.Duration {
	deadline := 3 * time.Minute
	for i, a := range args {
		var value string
		switch {
		case strings.HasPrefix(a, "--timeout="):
			value = strings.TrimPrefix(a, "--timeout=")
		case a == "--timeout" && i+1 < len(args):
			value = args[i+1]
		default:
			continue
		}
		if d, err := time.ParseDuration(value); err == nil && d+time.Minute > deadline {
			deadline = d + time.Minute
		}
	}
	return deadline
}

// mustKubectl fails the test when kubectl fails.
func (c *cluster) mustKubectl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := c.kubectl(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, detail := cond()
		if ok {
			return
		}
		last = detail
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last: %s", timeout, what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// seed returns the path of a manifest from the seed tutorials.
func seed(name string) string {
	return filepath.Join("testdata", "seeds", name)
}

// readAll is io.ReadAll for tests.
func readAll(t testing.TB, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// reapShims kills every process in the sessions led by running shims
// started from the given executables: the shims and their containers.
func reapShims(executables ...string) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	sessions := map[int]bool{}
	var all []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		all = append(all, pid)
		exe, err := os.Readlink(filepath.Join("/proc", p.Name(), "exe"))
		if err != nil {
			continue
		}
		for _, e := range executables {
			// Shims lead sessions of their own; a batchlet process in
			// any other session (this test's) is not one.
			if sid, err := unix.Getsid(pid); err == nil && exe == e && sid == pid {
				sessions[sid] = true
			}
		}
	}
	for _, pid := range all {
		if sid, err := unix.Getsid(pid); err == nil && sessions[sid] && sid != unix.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
