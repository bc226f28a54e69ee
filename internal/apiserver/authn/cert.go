package authn

import (
	"errors"
	"net/http"
)

type clientCertAuthenticator struct{}

// NewClientCertAuthenticator identifies callers by the client certificate the
// TLS listener has already verified against the cluster CA: the subject's
// CommonName is the user name and its Organizations are the groups. An
// unverified certificate (the listener uses VerifyClientCertIfGiven, so none
// reaches here unverified) is not trusted.
func NewClientCertAuthenticator() Authenticator {
	return clientCertAuthenticator{}
}

func (clientCertAuthenticator) Authenticate(r *http.Request) (*UserInfo, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, false, nil
	}
	if len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil, false, errors.New("client certificate was not verified")
	}
	leaf := r.TLS.VerifiedChains[0][0]
	if leaf.Subject.CommonName == "" {
		return nil, false, errors.New("client certificate has no common name")
	}
	return &UserInfo{
		Name:   leaf.Subject.CommonName,
		Groups: append([]string(nil), leaf.Subject.Organization...),
	}, true, nil
}
