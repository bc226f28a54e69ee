package authn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestTokenAuthenticator(t *testing.T) {
	a := NewTokenAuthenticator(map[string]UserInfo{
		"s3cret": {Name: "admin", Groups: []string{"system:masters"}},
		"other":  {Name: "bob"},
	})
	tests := []struct {
		name    string
		header  string
		want    *UserInfo
		wantErr bool
	}{
		{name: "no header"},
		{name: "basic scheme", header: "Basic Zm9vOmJhcg=="},
		{name: "known token", header: "Bearer s3cret", want: &UserInfo{Name: "admin", Groups: []string{"system:masters"}}},
		{name: "scheme case-insensitive", header: "bearer other", want: &UserInfo{Name: "bob"}},
		{name: "unknown token", header: "Bearer s3cre"},
		{name: "token prefix of known", header: "Bearer s3cretX"},
		{name: "empty token", header: "Bearer ", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/api", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			u, ok, err := a.Authenticate(r)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if ok != (tt.want != nil) {
				t.Fatalf("ok = %v, want %v", ok, tt.want != nil)
			}
			if tt.want != nil && !reflect.DeepEqual(u, tt.want) {
				t.Fatalf("user = %+v, want %+v", u, tt.want)
			}
		})
	}
}

func TestTokenAuthenticatorReturnsCopy(t *testing.T) {
	a := NewTokenAuthenticator(map[string]UserInfo{"t": {Name: "u", Groups: []string{"g"}}})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer t")
	u, _, _ := a.Authenticate(r)
	u.Groups[0] = "mutated"
	u2, _, _ := a.Authenticate(r)
	if u2.Groups[0] != "g" {
		t.Fatalf("groups shared between calls: %v", u2.Groups)
	}
}

func TestLoadTokenFile(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    map[string]UserInfo
		wantErr string
	}{
		{
			name:    "users and groups",
			content: "tok1,alice,uid1,\"system:masters,devs\"\n\ntok2,bob,uid2\n# comment\ntok3,carol,uid3,ops\n",
			want: map[string]UserInfo{
				"tok1": {Name: "alice", Groups: []string{"system:masters", "devs"}},
				"tok2": {Name: "bob"},
				"tok3": {Name: "carol", Groups: []string{"ops"}},
			},
		},
		{name: "too few columns", content: "tok1,alice\n", wantErr: "must have at least 3 columns"},
		{name: "duplicate", content: "t,a,1\nt,b,2\n", wantErr: "duplicate token"},
		{name: "empty user", content: "t,,1\n", wantErr: "empty user name"},
		{name: "bad quoting", content: "t,\"a,1\n", wantErr: "parse token file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokens.csv")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadTokenFile(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := LoadTokenFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing file: want error")
	}
}

// certPair makes a certificate signed by parent (self-signed when parent is nil).
func certPair(t *testing.T, subject pkix.Name, isCA bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               subject,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  isCA,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestClientCertAuthenticatorOverTLS(t *testing.T) {
	ca, caKey := certPair(t, pkix.Name{CommonName: "cluster-ca"}, true, nil, nil)
	client, clientKey := certPair(t, pkix.Name{CommonName: "jane", Organization: []string{"devs", "system:masters"}}, false, ca, caKey)
	pool := x509.NewCertPool()
	pool.AddCert(ca)

	a := Union(NewTokenAuthenticator(map[string]UserInfo{"t": {Name: "token-user"}}), NewClientCertAuthenticator())
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok, err := a.Authenticate(r)
		if err != nil || !ok {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(u)
	}))
	srv.TLS = &tls.Config{ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven}
	srv.StartTLS()
	defer srv.Close()

	get := func(cert *tls.Certificate, token string) (int, *UserInfo) {
		t.Helper()
		tr := srv.Client().Transport.(*http.Transport).Clone()
		if cert != nil {
			tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
		}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var u UserInfo
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&u); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, &u
	}

	clientCert := &tls.Certificate{Certificate: [][]byte{client.Raw}, PrivateKey: clientKey}
	code, u := get(clientCert, "")
	if code != http.StatusOK || u.Name != "jane" || !reflect.DeepEqual(u.Groups, []string{"devs", "system:masters"}) {
		t.Fatalf("cert: code %d user %+v", code, u)
	}
	if code, u = get(nil, "t"); code != http.StatusOK || u.Name != "token-user" {
		t.Fatalf("token: code %d user %+v", code, u)
	}
	if code, _ = get(nil, ""); code != http.StatusUnauthorized {
		t.Fatalf("anonymous: code %d, want 401", code)
	}
	// A wrong token does not hide a valid certificate.
	if code, u = get(clientCert, "wrong"); code != http.StatusOK || u.Name != "jane" {
		t.Fatalf("cert+bad token: code %d user %+v", code, u)
	}
}

func TestClientCertAuthenticatorRejectsUnverified(t *testing.T) {
	ca, caKey := certPair(t, pkix.Name{CommonName: "ca"}, true, nil, nil)
	leaf, _ := certPair(t, pkix.Name{CommonName: "mallory"}, false, ca, caKey)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}
	if _, ok, err := NewClientCertAuthenticator().Authenticate(r); ok || err == nil {
		t.Fatalf("unverified cert: ok=%v err=%v, want rejection", ok, err)
	}
	r.TLS = nil
	if _, ok, err := NewClientCertAuthenticator().Authenticate(r); ok || err != nil {
		t.Fatalf("plain http: ok=%v err=%v", ok, err)
	}
}

func TestUnion(t *testing.T) {
	fail := AuthenticatorFunc(func(*http.Request) (*UserInfo, bool, error) { return nil, false, os.ErrInvalid })
	none := AuthenticatorFunc(func(*http.Request) (*UserInfo, bool, error) { return nil, false, nil })
	yes := AuthenticatorFunc(func(*http.Request) (*UserInfo, bool, error) { return &UserInfo{Name: "x"}, true, nil })
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	tests := []struct {
		name    string
		auths   []Authenticator
		wantOK  bool
		wantErr bool
	}{
		{name: "empty"},
		{name: "none", auths: []Authenticator{none, nil}},
		{name: "error then success", auths: []Authenticator{fail, yes}, wantOK: true},
		{name: "error only", auths: []Authenticator{none, fail}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, ok, err := Union(tt.auths...).Authenticate(r)
			if ok != tt.wantOK || (err != nil) != tt.wantErr {
				t.Fatalf("ok=%v err=%v", ok, err)
			}
			if ok && u.Name != "x" {
				t.Fatalf("user %+v", u)
			}
		})
	}
}
