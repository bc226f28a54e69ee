package server

import (
	"fmt"
	"net"
	"os"

	"github.com/batchlet/batchlet/internal/pki"
)

// serverCerts are the certificates one server process uses.
type serverCerts struct {
	serving       *pki.KeyPair // the apiserver's HTTPS certificate
	admin         *pki.KeyPair // the admin kubeconfig's identity
	loopback      *pki.KeyPair // RESTConfig's identity, the one the components have in process
	kubeletClient *pki.KeyPair // the apiserver's identity towards node agents
}

func issueServerCerts(ca *pki.CA, dir, listen string) (*serverCerts, error) {
	dnsNames := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	if host, err := os.Hostname(); err == nil && host != "" {
		dnsNames = append(dnsNames, host)
	}
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	if host, _, err := net.SplitHostPort(listen); err == nil {
		if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() && !ip.IsLoopback() {
			ips = append(ips, ip)
		} else if ip != nil && ip.IsUnspecified() {
			ips = append(ips, hostIPs()...)
		} else if ip == nil && host != "" && host != "localhost" {
			dnsNames = append(dnsNames, host)
		}
	}
	var c serverCerts
	var err error
	// The serving certificate is issued on every start so that it always
	// covers the current listen address and host addresses.
	if c.serving, err = ca.IssueServing("batchlet-apiserver", dnsNames, ips); err != nil {
		return nil, fmt.Errorf("issuing serving certificate: %w", err)
	}
	if c.admin, err = pki.LoadOrIssue(dir, "admin", func() (*pki.KeyPair, error) {
		return ca.IssueClient("admin", []string{"system:masters"})
	}); err != nil {
		return nil, fmt.Errorf("issuing admin certificate: %w", err)
	}
	if c.loopback, err = ca.IssueClient(loopbackUser.Name, loopbackUser.Groups); err != nil {
		return nil, fmt.Errorf("issuing loopback certificate: %w", err)
	}
	if c.kubeletClient, err = pki.LoadOrIssue(dir, "apiserver-kubelet-client", func() (*pki.KeyPair, error) {
		return ca.IssueClient("kube-apiserver-kubelet-client", []string{"system:masters"})
	}); err != nil {
		return nil, fmt.Errorf("issuing node client certificate: %w", err)
	}
	return &c, nil
}

// hostIPs lists the host's non-loopback unicast addresses.
func hostIPs() []net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var ips []net.IP
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.IsGlobalUnicast() {
			ips = append(ips, n.IP)
		}
	}
	return ips
}
