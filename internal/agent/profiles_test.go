package agent

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestProfileLookup(t *testing.T) {
	table, err := loadProfiles("", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		image, want string
	}{
		{"redis", "redis"},
		{"redis:7.0", "redis"},
		{"docker.io/library/redis:7.0@sha256:0123", "redis"},
		{"registry.example.com:5000/team/redis", "redis"},
		{"rabbitmq", "rabbitmq"},
		{"rabbitmq:3-management", "rabbitmq"},
		{"quay.io/x/rabbitmq:3.10", "rabbitmq"},
		{"gcr.io/myproject/job-wq-2", ""},
		{"redis-cli", ""},
		{"busybox:1.36", "busybox"},
	} {
		p, ok := table.lookup(tc.image)
		got := ""
		if ok {
			got = p.Image
		}
		if got != tc.want {
			t.Errorf("lookup(%q) = %q, want %q", tc.image, got, tc.want)
		}
	}
}

func TestServerProfilesResolve(t *testing.T) {
	base := "/data/profiles/x"
	redis, rabbit := redisProfile(base), rabbitmqProfile(base)
	for _, tc := range []struct {
		name     string
		p        Profile
		args     []string
		wantTail []string
	}{
		{"redis default", redis, nil, []string{"redis", base, "redis-server"}},
		{"redis options", redis, []string{"--appendonly", "yes"}, []string{"redis", base, "--appendonly", "yes"}},
		{"rabbitmq default", rabbit, nil, []string{"rabbitmq", base, "rabbitmq-server"}},
	} {
		p := tc.p
		p.Requires = nil // the host's programs are not what is tested here
		argv, err := resolveArgv(nil, tc.args, p, true, tc.p.Image, "c")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if argv[0] != "/bin/sh" || argv[1] != "-c" {
			t.Errorf("%s: argv = %q, want a /bin/sh -c supervisor", tc.name, argv)
		}
		if got := argv[3:]; strings.Join(got, "\x00") != strings.Join(tc.wantTail, "\x00") {
			t.Errorf("%s: arguments = %q, want %q", tc.name, got, tc.wantTail)
		}
	}
	if len(redis.Requires) == 0 || redis.Requires[0] != "redis-server" {
		t.Errorf("redis requires %q", redis.Requires)
	}
	if len(rabbit.Requires) == 0 || rabbit.Requires[0] != "/usr/lib/rabbitmq/bin/rabbitmq-server" {
		t.Errorf("rabbitmq requires %q", rabbit.Requires)
	}
}

func TestProfileMissingProgram(t *testing.T) {
	p := Profile{Image: "thing", Command: []string{"/bin/sh", "-c", "x"}, Requires: []string{"sh", "batchlet-no-such-program"}}
	_, err := resolveArgv(nil, nil, p, true, "thing:1", "c")
	if err == nil || !strings.Contains(err.Error(), "batchlet-no-such-program") {
		t.Fatalf("err = %v, want one naming the missing program", err)
	}
	// An explicit command does not use the profile, so needs nothing.
	if _, err := resolveArgv([]string{"true"}, nil, p, true, "thing:1", "c"); err != nil {
		t.Fatalf("explicit command: %v", err)
	}
	p.Requires = []string{"sh", "/bin/sh"}
	if _, err := resolveArgv(nil, nil, p, true, "thing:1", "c"); err != nil {
		t.Fatalf("present programs: %v", err)
	}
}

// A pod of a profile whose program is missing waits in
// CreateContainerConfigError, with a message naming the program.
func TestProfileMissingProgramPod(t *testing.T) {
	h := startAgent(t, nil, "")
	h.agent.profiles.profiles = append([]Profile{{Image: "needs-tool", Command: []string{"/bin/true"},
		Requires: []string{"batchlet-no-such-program"}}}, h.agent.profiles.profiles...)
	h.create(testPod("mp", corev1.Container{Name: "c", Image: "example.com/needs-tool:1"}))
	p := h.waitPod("mp", "CreateContainerConfigError", func(p *corev1.Pod) bool {
		return p != nil && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
			p.Status.ContainerStatuses[0].State.Waiting.Reason == "CreateContainerConfigError"
	})
	if msg := p.Status.ContainerStatuses[0].State.Waiting.Message; !strings.Contains(msg, "batchlet-no-such-program") {
		t.Fatalf("message = %q", msg)
	}
}

// The redis profile runs the host's redis-server with the image's
// behaviour, its files in a directory of its own that goes with the pod.
func TestRedisProfilePod(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed (scripts/install-deps.sh installs it)")
	}
	h := startAgent(t, nil, "")
	port := freePort(t)
	// The pod's options come after the profile's, so they win: a free
	// port keeps this test away from any Redis on 6379.
	h.create(testPod("redis", corev1.Container{Name: "r", Image: "docker.io/library/redis:7",
		Args: []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1"}}))
	h.waitPod("redis", "running", running)

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var conn net.Conn
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn = c
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis never listened on %s: %v\n%s", addr, err, h.readLog(podUID("redis"), "r", 0))
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	get := func(param string) string {
		t.Helper()
		if _, err := fmt.Fprintf(conn, "CONFIG GET %s\r\n", param); err != nil {
			t.Fatal(err)
		}
		// *2 $len name $len value
		var lines []string
		for len(lines) < 5 {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading CONFIG GET %s: %v", param, err)
			}
			lines = append(lines, strings.TrimRight(l, "\r\n"))
		}
		return lines[4]
	}
	base := filepath.Join(h.dir, "profiles", "redis")
	dir := get("dir")
	if filepath.Dir(dir) != base {
		t.Errorf("redis dir = %q, want a directory under %s", dir, base)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Errorf("redis dir %q: %v", dir, err)
	}
	for param, want := range map[string]string{"protected-mode": "no", "save": "", "appendonly": "no"} {
		if got := get(param); got != want {
			t.Errorf("redis %s = %q, want %q", param, got, want)
		}
	}

	h.deleteGracefully("redis", 10)
	h.waitPod("redis", "gone", gone)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("redis dir %q left behind after the pod: %v", dir, err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
