package nodeproxy

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// preferredAddressTypes is the order in which node addresses are tried.
var preferredAddressTypes = []corev1.NodeAddressType{
	corev1.NodeInternalIP,
	corev1.NodeExternalIP,
	corev1.NodeHostName,
}

// Location returns https://<address>:<port><path>?<query> for a node agent:
// the address is the node's InternalIP, else its ExternalIP, else its
// Hostname; the port is status.daemonEndpoints.kubeletEndpoint.Port.
func Location(node *corev1.Node, path string, query url.Values) (*url.URL, error) {
	if node == nil {
		return nil, apierrors.NewInternalError(errors.New("no node given"))
	}
	host, err := preferredAddress(node)
	if err != nil {
		return nil, err
	}
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	if port <= 0 || port > 65535 {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %q does not report a valid kubelet port (%d)", node.Name, port))
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return &url.URL{
		Scheme:   "https",
		Host:     net.JoinHostPort(host, strconv.Itoa(int(port))),
		Path:     path,
		RawQuery: query.Encode(),
	}, nil
}

func preferredAddress(node *corev1.Node) (string, error) {
	for _, t := range preferredAddressTypes {
		for _, a := range node.Status.Addresses {
			if a.Type == t && a.Address != "" {
				return a.Address, nil
			}
		}
	}
	// Same wording as kube-apiserver's error for a node it cannot reach.
	return "", apierrors.NewServiceUnavailable(fmt.Sprintf(
		"no preferred addresses found; known addresses: %v", node.Status.Addresses))
}
