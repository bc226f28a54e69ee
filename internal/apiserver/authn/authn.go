// Package authn identifies the caller of an apiserver request from a bearer
// token or a verified client certificate.
package authn

import "net/http"

// UserInfo identifies an authenticated caller.
type UserInfo struct {
	Name   string
	Groups []string
}

// Authenticator identifies the caller of a request. ok is false when the
// request carries no credential this authenticator recognises (the caller
// answers 401); err reports a credential that is present but broken.
type Authenticator interface {
	Authenticate(r *http.Request) (*UserInfo, bool, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request) (*UserInfo, bool, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(r *http.Request) (*UserInfo, bool, error) {
	return f(r)
}
