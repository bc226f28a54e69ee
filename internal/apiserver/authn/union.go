package authn

import (
	"errors"
	"net/http"
)

type union []Authenticator

// Union tries each authenticator in order and returns the first user found.
// Errors are returned only when no authenticator recognised the request, so
// a broken token does not hide a valid client certificate.
func Union(authenticators ...Authenticator) Authenticator {
	var u union
	for _, a := range authenticators {
		if a != nil {
			u = append(u, a)
		}
	}
	return u
}

func (u union) Authenticate(r *http.Request) (*UserInfo, bool, error) {
	var errs []error
	for _, a := range u {
		user, ok, err := a.Authenticate(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			return user, true, nil
		}
	}
	return nil, false, errors.Join(errs...)
}
