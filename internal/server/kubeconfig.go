package server

import (
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/batchlet/batchlet/internal/pki"
)

// writeKubeconfig writes an admin kubeconfig (mode 0600) that trusts the
// cluster CA and authenticates with the admin client certificate.
func writeKubeconfig(path, serverURL string, caPEM []byte, admin *pki.KeyPair) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["batchlet"] = &clientcmdapi.Cluster{Server: serverURL, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: admin.CertPEM, ClientKeyData: admin.KeyPEM}
	cfg.Contexts["batchlet"] = &clientcmdapi.Context{Cluster: "batchlet", AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = "batchlet"
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encoding kubeconfig: %w", err)
	}
	return pki.WriteFile(path, data, 0o600)
}
