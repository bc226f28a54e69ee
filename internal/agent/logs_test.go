package agent

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestLogsAPI(t *testing.T) {
	h, clientCert := startAgentWithClientCert(t)
	h.create(testPod("talk", sh("c", "debian", "for i in 1 2 3 4 5; do echo line$i; done")))
	// "slow" runs until the test opens its gate, so that it is seen
	// Running whatever the machine's load.
	gate := filepath.Join(t.TempDir(), "gate")
	h.create(testPod("slow", sh("c", "bash", "echo first; until [ -e "+gate+" ]; do sleep 0.05; done; echo second")))
	h.waitPod("talk", "Succeeded", phaseIs(corev1.PodSucceeded))

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		Certificates: []tls.Certificate{clientCert.TLS}, InsecureSkipVerify: true}}}
	get := func(path string) (int, string) {
		resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d%s", h.agent.port(), path))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	tests := []struct {
		query string
		want  string
	}{
		{"", "line1\nline2\nline3\nline4\nline5\n"},
		{"?tailLines=2", "line4\nline5\n"},
		{"?limitBytes=8", "line1\nli"},
	}
	for _, tc := range tests {
		code, body := get("/containerLogs/default/talk/c" + tc.query)
		if code != 200 || body != tc.want {
			t.Errorf("%q: %d %q, want %q", tc.query, code, body, tc.want)
		}
	}
	_, body := get("/containerLogs/default/talk/c?timestamps=true&tailLines=1")
	if ts, rest, _ := strings.Cut(body, " "); rest != "line5\n" || !strings.HasSuffix(ts, "Z") {
		t.Errorf("timestamps: %q", body)
	}
	if code, _ := get("/containerLogs/default/talk/nope"); code != http.StatusBadRequest {
		t.Errorf("unknown container: %d", code)
	}
	if code, _ := get("/containerLogs/default/talk/c?previous=true"); code != http.StatusBadRequest {
		t.Errorf("previous without restart: %d", code)
	}
	// Follow streams until the container ends.
	h.waitPod("slow", "running", running)
	// The gate opens as the request goes out; whether the container ends
	// before or after the stream starts, follow must return both lines.
	go func() { _ = os.WriteFile(gate, nil, 0o644) }()
	code, body := get("/containerLogs/default/slow/c?follow=true")
	if code != 200 || body != "first\nsecond\n" {
		t.Errorf("follow: %d %q", code, body)
	}

	// Without a client certificate the TLS handshake is refused.
	anon := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if resp, err := anon.Get(fmt.Sprintf("https://127.0.0.1:%d/containerLogs/default/talk/c", h.agent.port())); err == nil {
		resp.Body.Close()
		t.Error("request without client certificate succeeded")
	}
}
