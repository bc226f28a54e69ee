package pki

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestCAIssuesVerifiableCertificates(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(dir, "batchlet-ca")
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key mode: %v %v", info, err)
	}
	serving, err := ca.IssueServing("apiserver", []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(serving.TLS.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "localhost"}); err != nil {
		t.Fatalf("serving cert does not verify for localhost: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "example.com"}); err == nil {
		t.Fatal("serving cert verified for a name it was not issued for")
	}
	client, err := ca.IssueClient("admin", []string{"system:masters"})
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := x509.ParseCertificate(client.TLS.Certificate[0])
	if cl.Subject.CommonName != "admin" || len(cl.Subject.Organization) != 1 || cl.Subject.Organization[0] != "system:masters" {
		t.Fatalf("client subject = %v", cl.Subject)
	}
	if _, err := cl.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("client cert does not verify: %v", err)
	}
}

func TestCAAndLeavesSurviveReload(t *testing.T) {
	dir := t.TempDir()
	ca1, err := LoadOrCreateCA(dir, "batchlet-ca")
	if err != nil {
		t.Fatal(err)
	}
	ca2, err := LoadOrCreateCA(dir, "batchlet-ca")
	if err != nil {
		t.Fatal(err)
	}
	if !ca1.Cert.Equal(ca2.Cert) {
		t.Fatal("reloading created a new CA")
	}
	issued := 0
	issue := func() (*KeyPair, error) { issued++; return ca2.IssueClient("x", nil) }
	a, err := LoadOrIssue(dir, "x", issue)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrIssue(dir, "x", issue)
	if err != nil {
		t.Fatal(err)
	}
	if issued != 1 || string(a.CertPEM) != string(b.CertPEM) {
		t.Fatalf("issued %d times; second load returned a different cert", issued)
	}
}

func TestHalfPresentCAIsAnError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCA(dir, "batchlet-ca"); err == nil {
		t.Fatal("a CA certificate without its key must not be silently replaced")
	}
}
