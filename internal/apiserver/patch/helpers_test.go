package patch

import (
	"encoding/json"
	"net/http"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustDecode[T any](t *testing.T, data []byte) *T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return &v
}

// wantCode fails unless err is a status error with the given HTTP code.
func wantCode(t *testing.T, err error, code int32) {
	t.Helper()
	if err == nil {
		t.Fatalf("want a %d error, got none", code)
	}
	status, ok := err.(apierrors.APIStatus)
	if !ok {
		t.Fatalf("want a status error with code %d, got %T: %v", code, err, err)
	}
	if got := status.Status().Code; got != code {
		t.Fatalf("code = %d (%s), want %d: %v", got, http.StatusText(int(got)), code, err)
	}
}
