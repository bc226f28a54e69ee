package etcd3

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/batchlet/batchlet/internal/storage"
)

// continueToken is the opaque state of a paginated list: the revision the
// list is read at and the first key of the next page, relative to the
// listed prefix so that a token cannot reach outside it.
type continueToken struct {
	APIVersion string `json:"v"`
	Revision   int64  `json:"rv"`
	StartKey   string `json:"start"`
}

const continueTokenVersion = "meta.k8s.io/v1"

func encodeContinue(key, prefix string, rev int64) (string, error) {
	rel := strings.TrimPrefix(key, prefix)
	data, err := json.Marshal(continueToken{APIVersion: continueTokenVersion, Revision: rev, StartKey: rel})
	if err != nil {
		return "", fmt.Errorf("encoding continue token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(data), nil
}

// decodeContinue returns the absolute start key and the revision of a
// token produced by encodeContinue for the same prefix.
func decodeContinue(token, prefix string) (string, int64, error) {
	invalid := func(reason string) error {
		return storage.NewError(storage.ErrCodeInvalidContinue, prefix, "continue key is not valid: %s", reason)
	}
	data, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", 0, invalid(err.Error())
	}
	var t continueToken
	if err := json.Unmarshal(data, &t); err != nil {
		return "", 0, invalid(err.Error())
	}
	if t.APIVersion != continueTokenVersion {
		return "", 0, invalid(fmt.Sprintf("server does not recognize this encoded key version %q", t.APIVersion))
	}
	if t.Revision <= 0 {
		return "", 0, invalid("incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
	}
	if t.StartKey == "" {
		return "", 0, invalid("encoded start key is empty")
	}
	return prefix + t.StartKey, t.Revision, nil
}
