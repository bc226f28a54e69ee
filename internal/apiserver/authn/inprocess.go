package authn

import (
	"context"
	"net/http"
)

// inProcessKey is unexported so that only this package can put an
// *InProcess into a context; nothing a network client sends reaches one.
type inProcessKey struct{}

// InProcess identifies the server's own components when their requests
// reach the handler through an in-process transport rather than a
// listener. The transport marks each request's context with Mark; the
// authenticator trusts only a mark made by the same InProcess, so neither
// a header nor another InProcess can claim its identity.
type InProcess struct {
	user UserInfo
}

// NewInProcess returns an authenticator that gives marked requests user.
func NewInProcess(user UserInfo) *InProcess {
	return &InProcess{user: cloneUser(user)}
}

// Mark returns ctx carrying this authenticator's mark.
func (a *InProcess) Mark(ctx context.Context) context.Context {
	return context.WithValue(ctx, inProcessKey{}, a)
}

// Authenticate recognises requests whose context carries a's mark and
// nothing else.
func (a *InProcess) Authenticate(r *http.Request) (*UserInfo, bool, error) {
	if marked, _ := r.Context().Value(inProcessKey{}).(*InProcess); marked != a || a == nil {
		return nil, false, nil
	}
	u := cloneUser(a.user)
	return &u, true, nil
}
