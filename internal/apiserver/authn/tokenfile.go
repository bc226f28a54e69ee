package authn

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// LoadTokenFile reads a static token file in kube-apiserver's CSV format:
// token,user,uid[,"group1,group2"] per line. Blank lines and lines starting
// with '#' are ignored. The uid is accepted and not used.
func LoadTokenFile(path string) (map[string]UserInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open token file: %w", err)
	}
	defer f.Close()
	return parseTokens(f, path)
}

func parseTokens(r io.Reader, path string) (map[string]UserInfo, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	tokens := map[string]UserInfo{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return tokens, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parse token file %q: %w", path, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) < 3 {
			return nil, fmt.Errorf("token file '%s' must have at least 3 columns (token, user name, user uid), found %d", path, len(rec))
		}
		token, name := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		if token == "" {
			return nil, fmt.Errorf("token file %q line %d: empty token", path, line)
		}
		if name == "" {
			return nil, fmt.Errorf("token file %q line %d: empty user name", path, line)
		}
		if _, dup := tokens[token]; dup {
			return nil, fmt.Errorf("token file %q line %d: duplicate token", path, line)
		}
		u := UserInfo{Name: name}
		if len(rec) > 3 {
			for _, g := range strings.Split(rec[3], ",") {
				if g = strings.TrimSpace(g); g != "" {
					u.Groups = append(u.Groups, g)
				}
			}
		}
		tokens[token] = u
	}
}
