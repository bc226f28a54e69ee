package server

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/batchlet/batchlet/internal/apiserver/authn"
	"github.com/batchlet/batchlet/internal/join"
	"github.com/batchlet/batchlet/internal/pki"
)

// TokenPath is where the server keeps the token agents join with.
func TokenPath(dataDir string) string { return filepath.Join(dataDir, "token") }

// loadOrCreateJoinToken returns the join token, creating it (0600) on
// first start. Its CA hash lets an agent trust the CA it downloads.
func loadOrCreateJoinToken(dataDir string, caPEM []byte) (*join.Token, error) {
	path := TokenPath(dataDir)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		s, err := join.GenerateToken(caPEM)
		if err != nil {
			return nil, fmt.Errorf("generating join token: %w", err)
		}
		if err := pki.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
			return nil, err
		}
		data = []byte(s)
	} else if err != nil {
		return nil, fmt.Errorf("reading join token: %w", err)
	}
	tok, err := join.ParseToken(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("join token in %s: %w", path, err)
	}
	return tok, nil
}

// authenticator accepts the server's own components through the
// in-process transport, client certificates signed by the cluster CA and
// the join token, which identifies a node agent.
func authenticator(tok *join.Token, loopback *authn.InProcess) authn.Authenticator {
	nodes := authn.NewTokenAuthenticator(map[string]authn.UserInfo{
		tok.BearerToken(): {Name: "system:node", Groups: []string{"system:nodes", "system:authenticated"}},
	})
	return authn.Union(loopback, authn.NewClientCertAuthenticator(), nodes)
}

// withCACerts serves the cluster CA at /cacerts without authentication,
// for agents that join with a token (they verify it against the token's
// hash before trusting it).
func withCACerts(next http.Handler, caPEM []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == join.CACertsPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			w.Header().Set("Content-Type", "application/x-pem-file")
			w.Write(caPEM)
			return
		}
		next.ServeHTTP(w, r)
	})
}
