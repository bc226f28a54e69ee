package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/batchlet/batchlet/internal/testutil"
)

// streamClient is what the apiserver is to the agent API: a client with a
// certificate from the cluster CA.
func streamClient(t *testing.T) (*harness, *rest.Config) {
	t.Helper()
	h, cert := startAgentWithClientCert(t)
	cfg := &rest.Config{
		Host:            fmt.Sprintf("https://127.0.0.1:%d", h.agent.port()),
		TLSClientConfig: rest.TLSClientConfig{Insecure: true, CertData: cert.CertPEM, KeyData: cert.KeyPEM},
	}
	return h, cfg
}

type executorFactory func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error)

var protocols = map[string]executorFactory{
	"websocket": func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
		return remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	},
	"spdy": func(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
		return remotecommand.NewSPDYExecutor(cfg, "POST", u)
	},
}

func streamURL(cfg *rest.Config, kind, pod, container string, q url.Values) *url.URL {
	u, _ := url.Parse(cfg.Host)
	u.Path = fmt.Sprintf("/%s/default/%s/%s", kind, pod, container)
	u.RawQuery = q.Encode()
	return u
}

func TestExecOverWebSocketAndSPDY(t *testing.T) {
	h, cfg := streamClient(t)
	pod := testPod("target", sh("c", "debian", "sleep 30"))
	pod.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "WHO", Value: "container"}}
	h.create(pod)
	h.waitPod("target", "running", running)

	for name, newExec := range protocols {
		t.Run(name, func(t *testing.T) {
			tests := []struct {
				script string
				stdin  string
				code   int
				stdout string
				stderr string
			}{
				{"echo hi $WHO; echo oops >&2", "", 0, "hi container\n", "oops\n"},
				{"exit 3", "", 3, "", ""},
				{"tr a-z A-Z", "shout\n", 0, "SHOUT\n", ""},
			}
			for _, tc := range tests {
				q := url.Values{"command": {"sh", "-c", tc.script}, "stdout": {"true"}, "stderr": {"true"}}
				if tc.stdin != "" {
					q.Set("stdin", "true")
				}
				ex, err := newExec(cfg, streamURL(cfg, "exec", "target", "c", q))
				if err != nil {
					t.Fatal(err)
				}
				var out, errb bytes.Buffer
				opts := remotecommand.StreamOptions{Stdout: &out, Stderr: &errb}
				if tc.stdin != "" {
					opts.Stdin = strings.NewReader(tc.stdin)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err = ex.StreamWithContext(ctx, opts)
				cancel()
				code := 0
				var exitErr utilexec.CodeExitError
				if errors.As(err, &exitErr) {
					code = exitErr.Code
				} else if err != nil {
					t.Fatalf("%q: %v", tc.script, err)
				}
				if code != tc.code || out.String() != tc.stdout || errb.String() != tc.stderr {
					t.Errorf("%q: code %d stdout %q stderr %q", tc.script, code, out.String(), errb.String())
				}
			}
		})
	}

	ex, err := protocols["websocket"](cfg, streamURL(cfg, "exec", "target", "nope", url.Values{"command": {"true"}, "stdout": {"true"}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdout: io.Discard}); err == nil ||
		!strings.Contains(err.Error(), `container not found ("nope")`) {
		t.Fatalf("exec into missing container: %v", err)
	}
}

// sizeQueue hands out one terminal size.
type sizeQueue struct{ sent bool }

func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	if q.sent {
		select {}
	}
	q.sent = true
	return &remotecommand.TerminalSize{Width: 100, Height: 40}
}

// TestRunInteractiveTerminal is kubectl run -i --tty: a container with a
// terminal and stdinOnce, attached over WebSocket v5.
func TestRunInteractiveTerminal(t *testing.T) {
	h, cfg := streamClient(t)
	c := corev1.Container{Name: "temp", Image: "debian", Command: []string{"sh"}, Stdin: true, StdinOnce: true, TTY: true}
	pod := testPod("temp", c)
	pod.Spec.RestartPolicy = corev1.RestartPolicyAlways
	h.create(pod)
	h.waitPod("temp", "running", running)

	ex, err := protocols["websocket"](cfg, streamURL(cfg, "attach", "temp", "temp",
		url.Values{"stdin": {"true"}, "stdout": {"true"}, "tty": {"true"}}))
	if err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	var out testutil.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- ex.StreamWithContext(context.Background(), remotecommand.StreamOptions{
			Stdin: inR, Stdout: &out, Tty: true, TerminalSizeQueue: &sizeQueue{}})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "40 100") {
		if time.Now().After(deadline) {
			t.Fatalf("no answer through the terminal; output %q", out.String())
		}
		_, _ = io.WriteString(inW, "stty size\n")
		time.Sleep(50 * time.Millisecond)
	}
	_, _ = io.WriteString(inW, "exit 5\n")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("attach: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("attach did not end with the shell")
	}
	p := h.waitPod("temp", "restarted after exit", func(p *corev1.Pod) bool {
		return p != nil && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	if last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated; last == nil || last.ExitCode != 5 {
		t.Fatalf("last state = %+v", p.Status.ContainerStatuses[0].LastTerminationState)
	}
}
