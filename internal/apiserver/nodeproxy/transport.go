package nodeproxy

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"time"
)

// NewTransport returns the transport for talking to node agents. The
// apiserver presents clientCert. With rootCAs nil the node's serving
// certificate is not verified, as kube-apiserver does without
// --kubelet-certificate-authority (node agents serve self-signed certs).
// HTTP/2 and compression are off so that upgrades and streamed logs pass
// through unbuffered.
func NewTransport(clientCert tls.Certificate, rootCAs *x509.CertPool) http.RoundTripper {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		RootCAs:            rootCAs,
		InsecureSkipVerify: rootCAs == nil, //nolint:gosec // matches kube-apiserver without a kubelet CA
	}
	if len(clientCert.Certificate) > 0 {
		cfg.Certificates = []tls.Certificate{clientCert}
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       cfg,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConnsPerHost:   25,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		ExpectContinueTimeout: time.Second,
	}
}
