package nodeproxy

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const waitLimit = 10 * time.Second

// clientCert makes a self-signed client certificate for the apiserver.
func clientCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kube-apiserver-kubelet-client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// seen is what the fake node agent observed about one request.
type seen struct {
	path, query, auth, accept, clientCN string
}

func record(r *http.Request) seen {
	s := seen{path: r.URL.Path, query: r.URL.RawQuery, auth: r.Header.Get("Authorization"), accept: r.Header.Get("Accept")}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		s.clientCN = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	return s
}

// newNode starts a TLS server standing in for a node agent; it requires a
// client certificate, like the kubelet API.
func newNode(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// newAPIServer starts a plain server whose every request is proxied to
// nodeURL+path?query.
func newAPIServer(t *testing.T, nodeURL, path string, query url.Values) *httptest.Server {
	t.Helper()
	target, err := url.Parse(nodeURL)
	if err != nil {
		t.Fatal(err)
	}
	target.Path, target.RawQuery = path, query.Encode()
	transport := NewTransport(clientCert(t), nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Serve(w, r, target, transport)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestServeStreamsFollowedLogs(t *testing.T) {
	saw := make(chan seen, 1)
	release := make(chan struct{})
	n := newNode(t, func(w http.ResponseWriter, r *http.Request) {
		saw <- record(r)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "line 1\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "line 2\n")
	})
	api := newAPIServer(t, n.URL, "/containerLogs/default/pi/pi", url.Values{"follow": {"true"}})

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api.URL+"/api/v1/namespaces/default/pods/pi/log?container=pi&follow=true", nil)
	req.Header.Set("Authorization", "Bearer client-secret")
	req.Header.Set("Accept", "application/json, */*")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(resp.Body)
	// The first line must arrive while the node still holds the stream open.
	if line, err := br.ReadString('\n'); err != nil || line != "line 1\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	close(release)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "line 2\n" {
		t.Fatalf("rest %q, %v", rest, err)
	}

	s := <-saw
	want := seen{path: "/containerLogs/default/pi/pi", query: "follow=true", accept: "application/json, */*", clientCN: "kube-apiserver-kubelet-client"}
	if s != want {
		t.Fatalf("node saw %+v, want %+v", s, want)
	}
}

func TestServeClientDisconnectEndsNodeRequest(t *testing.T) {
	gone := make(chan struct{})
	n := newNode(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "started\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			close(gone)
		case <-time.After(waitLimit):
		}
	})
	api := newAPIServer(t, n.URL, "/containerLogs/default/pi/pi", url.Values{"follow": {"true"}})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || line != "started\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	cancel()
	select {
	case <-gone:
	case <-time.After(waitLimit):
		t.Fatal("node request still running after the client went away")
	}
}

func TestServeRelaysNodeErrors(t *testing.T) {
	n := newNode(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"kind":"Status","code":404}`)
	})
	api := newAPIServer(t, n.URL, "/containerLogs/default/pi/nope", nil)
	resp, err := http.Get(api.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNotFound || string(body) != `{"kind":"Status","code":404}` {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
}

// closedAddr returns an address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func decodeStatus(t *testing.T, r io.Reader) metav1.Status {
	t.Helper()
	var s metav1.Status
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestServeNodeUnreachable(t *testing.T) {
	addr := closedAddr(t)
	api := newAPIServer(t, "https://"+addr, "/containerLogs/default/pi/pi", nil)

	resp, err := http.Get(api.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	s := decodeStatus(t, resp.Body)
	wantPrefix := `Get "https://` + addr + `/containerLogs/default/pi/pi": `
	if resp.StatusCode != http.StatusInternalServerError || s.Code != 500 || s.Kind != "Status" || !strings.HasPrefix(s.Message, wantPrefix) {
		t.Fatalf("status %d: %+v", resp.StatusCode, s)
	}

	req, _ := http.NewRequest(http.MethodGet, api.URL, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	s = decodeStatus(t, resp2.Body)
	if resp2.StatusCode != http.StatusInternalServerError || !strings.HasPrefix(s.Message, "error dialing backend: ") {
		t.Fatalf("upgrade: status %d: %+v", resp2.StatusCode, s)
	}
}

func TestServeUpgrade(t *testing.T) {
	saw := make(chan seen, 1)
	n := newNode(t, func(w http.ResponseWriter, r *http.Request) {
		saw <- record(r)
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "upgrade required", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = rw.Flush()
		buf := make([]byte, 1024)
		for {
			k, err := rw.Read(buf)
			if err != nil {
				return
			}
			if _, err := conn.Write(buf[:k]); err != nil {
				return
			}
		}
	})
	api := newAPIServer(t, n.URL, "/exec/default/pi/pi", url.Values{"command": {"echo", "hi"}, "stdout": {"true"}})

	conn, err := net.Dial("tcp", strings.TrimPrefix(api.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(waitLimit))
	_, err = io.WriteString(conn, "GET /api/v1/namespaces/default/pods/pi/exec?command=x HTTP/1.1\r\nHost: apiserver\r\n"+
		"Connection: Upgrade\r\nUpgrade: echo\r\nAuthorization: Bearer client-secret\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, msg := range []string{"ping", "second message"} {
		if _, err := io.WriteString(conn, msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
			t.Fatalf("echo %q, %v", got, err)
		}
	}

	s := <-saw
	want := seen{path: "/exec/default/pi/pi", query: "command=echo&command=hi&stdout=true", clientCN: "kube-apiserver-kubelet-client"}
	if s != want {
		t.Fatalf("node saw %+v, want %+v", s, want)
	}
}

func TestServeUpgradeRefusedByNode(t *testing.T) {
	n := newNode(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"kind":"Status","code":400}`)
	})
	api := newAPIServer(t, n.URL, "/exec/default/pi/pi", nil)
	req, _ := http.NewRequest(http.MethodGet, api.URL, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"code":400`) {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
}

func TestTransportVerifiesNodeWhenGivenCAs(t *testing.T) {
	n := newNode(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	target, _ := url.Parse(n.URL + "/healthz")
	good := x509.NewCertPool()
	good.AddCert(n.Certificate())
	tests := []struct {
		name string
		cas  *x509.CertPool
		want int
	}{
		{name: "trusted CA", cas: good, want: http.StatusOK},
		{name: "unknown CA", cas: x509.NewCertPool(), want: http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Serve(rec, httptest.NewRequest(http.MethodGet, "/", nil), target, NewTransport(clientCert(t), tt.cas))
			if rec.Code != tt.want {
				t.Fatalf("code %d body %s", rec.Code, rec.Body)
			}
		})
	}
}
