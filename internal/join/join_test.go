package join

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/batchlet/batchlet/internal/pki"
)

func TestParseToken(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	tests := []struct {
		in      string
		want    *Token
		wantErr string
	}{
		{"K10" + hash + "::node:s3cret", &Token{CAHash: hash, Name: "node", Secret: "s3cret"}, ""},
		{" K10" + hash + "::node:s3cret\n", &Token{CAHash: hash, Name: "node", Secret: "s3cret"}, ""},
		{"K10" + strings.ToUpper(hash) + "::n:s", &Token{CAHash: hash, Name: "n", Secret: "s"}, ""},
		{"node:s3cret", nil, "must start with"},
		{"K10" + hash + "node:s3cret", nil, `missing "::"`},
		{"K10abc::node:s", nil, "64 hex digits"},
		{"K10" + strings.Repeat("zz", 32) + "::node:s", nil, "64 hex digits"},
		{"K10" + hash + "::node", nil, "<name>:<secret>"},
		{"K10" + hash + "::node:", nil, "<name>:<secret>"},
		{"K10" + hash + "::node:a b", nil, "<name>:<secret>"},
	}
	for _, tc := range tests {
		got, err := ParseToken(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseToken(%q) err = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || *got != *tc.want {
			t.Errorf("ParseToken(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

// cluster is a TLS server with a certificate from its own CA, serving the
// CA at /cacerts and checking bearer tokens elsewhere.
func cluster(t *testing.T, bearer *string) (*httptest.Server, *pki.CA) {
	t.Helper()
	ca, err := pki.LoadOrCreateCA(t.TempDir(), "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	serving, err := ca.IssueServing("server", []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == CACertsPath {
			_, _ = w.Write(ca.CertPEM)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+*bearer {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serving.TLS}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, ca
}

func TestBootstrapRoundTrip(t *testing.T) {
	var bearer string
	srv, ca := cluster(t, &bearer)
	token, err := GenerateToken(ca.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ParseToken(token)
	if err != nil {
		t.Fatal(err)
	}
	bearer = tok.BearerToken()

	cfg, caPEM, err := Bootstrap(context.Background(), srv.URL, token)
	if err != nil {
		t.Fatal(err)
	}
	if string(caPEM) != string(ca.CertPEM) || cfg.BearerToken != tok.BearerToken() || cfg.Insecure {
		t.Fatalf("config = %+v", cfg)
	}
	// The returned config verifies the server against the pinned CA and
	// authenticates with the token.
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(srv.URL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authenticated request: %s", resp.Status)
	}
}

func TestBootstrapRejectsAnotherCA(t *testing.T) {
	bearer := "x"
	srv, _ := cluster(t, &bearer)
	other, err := pki.LoadOrCreateCA(t.TempDir(), "impostor")
	if err != nil {
		t.Fatal(err)
	}
	token, err := GenerateToken(other.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Bootstrap(context.Background(), srv.URL, token); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("err = %v, want a CA mismatch", err)
	}
	if _, _, err := Bootstrap(context.Background(), strings.Replace(srv.URL, "https", "http", 1), token); err == nil {
		t.Fatal("plain http accepted")
	}
}
