package server

import (
	"net/http"

	apiruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"

	"github.com/batchlet/batchlet/internal/apiserver/authn"
	"github.com/batchlet/batchlet/internal/inproc"
	"github.com/batchlet/batchlet/internal/pki"
)

// loopbackUser is who the server's own components are to the apiserver,
// whether they reach it in process or with the loopback certificate.
var loopbackUser = authn.UserInfo{Name: "system:batchlet-loopback", Groups: []string{"system:masters"}}

// componentConfig is the client configuration the controllers, the
// scheduler, the local agent and the networking components share:
// requests go straight to the apiserver's handler through transport.
func componentConfig(url string, transport http.RoundTripper) *rest.Config {
	cfg := loopbackBase(url)
	cfg.Transport = transport
	// What reads return (gets, lists, watch events) is handed over in
	// memory; anything the apiserver does not answer that way (writes'
	// responses, tables, metadata) comes as protobuf.
	cfg.AcceptContentTypes = inproc.ObjectMediaType + "," + cfg.AcceptContentTypes
	return cfg
}

// tlsLoopbackConfig reaches the apiserver like a network client does, over
// TLS with the loopback certificate, for callers that want the listener.
func tlsLoopbackConfig(url string, ca *pki.CA, cert *pki.KeyPair) *rest.Config {
	cfg := loopbackBase(url)
	cfg.TLSClientConfig = rest.TLSClientConfig{CAData: ca.CertPEM, CertData: cert.CertPEM, KeyData: cert.KeyPEM}
	return cfg
}

func loopbackBase(url string) *rest.Config {
	return &rest.Config{
		Host: url,
		// In-process components are not throttled: the apiserver is theirs.
		RateLimiter: flowcontrol.NewFakeAlwaysRateLimiter(),
		UserAgent:   "batchlet",
		// Protobuf for every request that has a body, as upstream
		// components are configured; generated clients already prefer it
		// for their own calls, but events and bindings would go as JSON.
		// Patches keep their JSON patch types.
		ContentConfig: rest.ContentConfig{
			ContentType:        apiruntime.ContentTypeProtobuf,
			AcceptContentTypes: apiruntime.ContentTypeProtobuf + "," + apiruntime.ContentTypeJSON,
		},
	}
}
