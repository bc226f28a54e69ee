package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/batchlet/batchlet/internal/runtime"
)

// maxProbeOutput bounds what a probe's output contributes to messages.
const maxProbeOutput = 10 * 1024

// probeUserAgent is what kubelet's HTTP probes send.
const probeUserAgent = "kube-probe/1.34"

// runProbe performs one probe of a running container and reports whether
// it passed, with its output.
func runProbe(ctx context.Context, podIP string, c *corev1.Container, ctr runtime.Container, p *corev1.Probe) (bool, string) {
	timeout := time.Duration(p.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.Exec != nil:
		return execProbe(ctx, ctr, p.Exec.Command, timeout)
	case p.HTTPGet != nil:
		return httpProbe(ctx, podIP, c, p.HTTPGet)
	case p.TCPSocket != nil:
		return tcpProbe(ctx, podIP, c, p.TCPSocket)
	case p.GRPC != nil:
		return grpcProbe(ctx, podIP, p.GRPC, timeout)
	default:
		return false, "missing probe handler"
	}
}

// boundedBuffer keeps the first maxProbeOutput bytes written to it.
type boundedBuffer struct{ bytes.Buffer }

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := maxProbeOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func execProbe(ctx context.Context, ctr runtime.Container, cmd []string, timeout time.Duration) (bool, string) {
	ia, ok := ctr.(runtime.Interactive)
	if !ok {
		return false, "the container runtime cannot run exec probes"
	}
	var out boundedBuffer
	code, err := ia.Exec(ctx, cmd, runtime.Streams{Stdout: &out, Stderr: &out})
	switch {
	case ctx.Err() != nil:
		return false, fmt.Sprintf("command %q timed out after %v", strings.Join(cmd, " "), timeout)
	case err != nil:
		return false, err.Error()
	case code != 0:
		return false, out.String()
	}
	return true, out.String()
}

// probePort resolves a probe's port, by number or by the name of one of the
// container's ports.
func probePort(port intstr.IntOrString, c *corev1.Container) (int, error) {
	if port.Type == intstr.Int {
		if port.IntVal <= 0 || port.IntVal > 65535 {
			return 0, fmt.Errorf("invalid port number: %d", port.IntVal)
		}
		return int(port.IntVal), nil
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return int(p.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(port.StrVal); err == nil && n > 0 && n <= 65535 {
		return n, nil
	}
	return 0, fmt.Errorf("couldn't find port: %v in %v", port.StrVal, c.Name)
}

func probeHost(host, podIP string) string {
	if host != "" {
		return host
	}
	if podIP != "" {
		return podIP
	}
	return "127.0.0.1"
}

func httpProbe(ctx context.Context, podIP string, c *corev1.Container, g *corev1.HTTPGetAction) (bool, string) {
	port, err := probePort(g.Port, c)
	if err != nil {
		return false, err.Error()
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if path != "" && !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(probeHost(g.Host, podIP), strconv.Itoa(port))}
	if parsed, err := url.Parse(path); err == nil {
		u.Path, u.RawQuery = parsed.Path, parsed.RawQuery
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("User-Agent", probeUserAgent)
	req.Header.Set("Accept", "*/*")
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Set(h.Name, h.Value)
	}
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // kubelet does not verify probe targets
		DisableKeepAlives: true,
		Proxy:             nil,
	}}
	resp, err := client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	var body boundedBuffer
	_, _ = io.Copy(&body, resp.Body)
	if resp.StatusCode >= http.StatusOK && resp.StatusCode < http.StatusBadRequest {
		return true, body.String()
	}
	return false, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode)
}

func tcpProbe(ctx context.Context, podIP string, c *corev1.Container, t *corev1.TCPSocketAction) (bool, string) {
	port, err := probePort(t.Port, c)
	if err != nil {
		return false, err.Error()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(probeHost(t.Host, podIP), strconv.Itoa(port)))
	if err != nil {
		return false, err.Error()
	}
	_ = conn.Close()
	return true, ""
}

func grpcProbe(ctx context.Context, podIP string, g *corev1.GRPCAction, timeout time.Duration) (bool, string) {
	addr := net.JoinHostPort(probeHost("", podIP), strconv.Itoa(int(g.Port)))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithUserAgent(probeUserAgent))
	if err != nil {
		return false, fmt.Sprintf("failed to connect service %q within %v: %v", addr, timeout, err)
	}
	defer conn.Close()
	service := ""
	if g.Service != nil {
		service = *g.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return false, fmt.Sprintf("timeout: health rpc did not complete within %v", timeout)
		}
		return false, fmt.Sprintf("error: health rpc probe failed: %v", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return false, fmt.Sprintf("service unhealthy (responded with %q)", resp.GetStatus().String())
	}
	return true, ""
}
