package authn

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
)

type tokenAuthenticator struct {
	tokens []tokenEntry
}

type tokenEntry struct {
	token []byte
	user  UserInfo
}

// NewTokenAuthenticator recognises "Authorization: Bearer <token>" for the
// given tokens. Every known token is compared in constant time so the
// response time does not reveal how much of a guess was right.
func NewTokenAuthenticator(tokens map[string]UserInfo) Authenticator {
	a := &tokenAuthenticator{}
	for t, u := range tokens {
		if t == "" {
			continue
		}
		a.tokens = append(a.tokens, tokenEntry{token: []byte(t), user: cloneUser(u)})
	}
	return a
}

func (a *tokenAuthenticator) Authenticate(r *http.Request) (*UserInfo, bool, error) {
	token, ok := bearerToken(r)
	if !ok {
		return nil, false, nil
	}
	if token == "" {
		return nil, false, errors.New("invalid bearer token: empty")
	}
	given := []byte(token)
	var found *UserInfo
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(a.tokens[i].token, given) == 1 {
			found = &a.tokens[i].user
		}
	}
	if found == nil {
		return nil, false, nil
	}
	u := cloneUser(*found)
	return &u, true, nil
}

// bearerToken extracts the token of a Bearer Authorization header; ok is
// false when the header is absent or uses another scheme.
func bearerToken(r *http.Request) (string, bool) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, rest, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

func cloneUser(u UserInfo) UserInfo {
	return UserInfo{Name: u.Name, Groups: append([]string(nil), u.Groups...)}
}
