// Package join lets an agent on another machine join a server: a join
// token names a credential and pins the cluster CA, so the agent can fetch
// the CA over an unverified connection and still trust it.
package join

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// tokenPrefix marks the token format: K10<ca hash>::<name>:<secret>.
const tokenPrefix = "K10"

// DefaultTokenName is the credential name GenerateToken uses.
const DefaultTokenName = "node"

// Token is a parsed join token.
type Token struct {
	// CAHash is the hex SHA-256 of the cluster CA certificate (DER).
	CAHash string
	Name   string
	Secret string
}

// BearerToken is what the agent presents to the apiserver.
func (t *Token) BearerToken() string { return t.Name + ":" + t.Secret }

// String renders the token in its wire format.
func (t *Token) String() string {
	return tokenPrefix + t.CAHash + "::" + t.Name + ":" + t.Secret
}

// GenerateToken makes a new token for the CA in caPEM with a random secret.
func GenerateToken(caPEM []byte) (string, error) {
	hash, err := CAHash(caPEM)
	if err != nil {
		return "", err
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating token secret: %w", err)
	}
	t := Token{CAHash: hash, Name: DefaultTokenName, Secret: hex.EncodeToString(b[:])}
	return t.String(), nil
}

// ParseToken parses and checks a token.
func ParseToken(s string) (*Token, error) {
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok {
		return nil, fmt.Errorf("invalid join token: it must start with %q", tokenPrefix)
	}
	hash, cred, ok := strings.Cut(rest, "::")
	if !ok {
		return nil, errors.New("invalid join token: missing \"::\" after the CA hash")
	}
	if len(hash) != 2*sha256.Size {
		return nil, errors.New("invalid join token: the CA hash must be 64 hex digits")
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return nil, errors.New("invalid join token: the CA hash must be 64 hex digits")
	}
	name, secret, ok := strings.Cut(cred, ":")
	if !ok || name == "" || secret == "" || strings.ContainsAny(cred, " \t\r\n") {
		return nil, errors.New("invalid join token: the credential must be <name>:<secret>")
	}
	return &Token{CAHash: strings.ToLower(hash), Name: name, Secret: secret}, nil
}

// CAHash is the hex SHA-256 of the first certificate in caPEM, in DER form,
// so that re-encoding the PEM does not change it.
func CAHash(caPEM []byte) (string, error) {
	for rest := caPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return "", errors.New("no certificate in the CA PEM")
		}
		if block.Type == "CERTIFICATE" {
			sum := sha256.Sum256(block.Bytes)
			return hex.EncodeToString(sum[:]), nil
		}
	}
}

// matches reports whether caPEM is the CA the token pins.
func (t *Token) matches(caPEM []byte) bool {
	got, err := CAHash(caPEM)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(t.CAHash)) == 1
}
