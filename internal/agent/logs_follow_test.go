package agent

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLogsFollowSendsExistingLines: a follower gets what the log already
// holds at once, not only when the next line arrives.
func TestLogsFollowSendsExistingLines(t *testing.T) {
	h, clientCert := startAgentWithClientCert(t)
	pod := testPod("quiet", sh("c", "debian", "echo first; exec sleep 600"))
	h.create(pod)
	h.waitPod("quiet", "running", running)
	// The line must be in the file before the follower connects.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(h.readLog(pod.UID, "c", 0), "first") {
		if time.Now().After(deadline) {
			t.Fatal("the container's first line never reached its log")
		}
		time.Sleep(10 * time.Millisecond)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		fmt.Sprintf("https://127.0.0.1:%d/containerLogs/default/quiet/c?follow=true", h.agent.port()), nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		Certificates: []tls.Certificate{clientCert.TLS}, InsecureSkipVerify: true}}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first followed line %q, %v", line, err)
	}
}
