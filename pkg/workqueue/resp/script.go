package resp

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
)

// Script is a Lua script run with EVALSHA, falling back to EVAL when the
// server does not have it cached (first use, or after a restart).
type Script struct {
	src  string
	hash string
}

// NewScript returns a Script for the Lua source src.
func NewScript(src string) *Script {
	sum := sha1.Sum([]byte(src))
	return &Script{src: src, hash: hex.EncodeToString(sum[:])}
}

// Hash returns the script's SHA1, as the server names it.
func (s *Script) Hash() string { return s.hash }

// Run executes the script with the given keys and arguments.
func (s *Script) Run(ctx context.Context, c *Client, keys []string, args ...any) (Value, error) {
	cmd := make([]any, 0, 3+len(keys)+len(args))
	cmd = append(cmd, "EVALSHA", s.hash, len(keys))
	for _, k := range keys {
		cmd = append(cmd, k)
	}
	cmd = append(cmd, args...)
	v, err := c.Do(ctx, cmd...)
	if e, ok := err.(Error); ok && e.Prefix() == "NOSCRIPT" {
		cmd[0], cmd[1] = "EVAL", s.src
		return c.Do(ctx, cmd...)
	}
	return v, err
}
