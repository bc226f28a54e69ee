package secret

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDefaultMergesStringData(t *testing.T) {
	s := &corev1.Secret{Data: map[string][]byte{"a": []byte("old"), "b": []byte("keep")}, StringData: map[string]string{"a": "new", "c": "x"}}
	strategy{}.Default(s)
	if s.Type != corev1.SecretTypeOpaque || s.StringData != nil ||
		string(s.Data["a"]) != "new" || string(s.Data["b"]) != "keep" || string(s.Data["c"]) != "x" {
		t.Errorf("defaulted = %+v", s)
	}
}

func TestValidate(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		s    corev1.Secret
		want string
	}{
		{"opaque", corev1.Secret{Type: "Opaque", Data: map[string][]byte{"password": []byte("x")}}, ""},
		{"bad key", corev1.Secret{Type: "Opaque", Data: map[string][]byte{"..": nil}}, `data[..]: Invalid value: "..": must not be '..'`},
		{"tls", corev1.Secret{Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil}}, "data[tls.key]: Required value"},
		{"sa token", corev1.Secret{Type: corev1.SecretTypeServiceAccountToken}, "metadata.annotations[kubernetes.io/service-account.name]: Required value"},
	}
	for _, c := range cases {
		errs := strategy{}.Validate(ctx, &c.s)
		got := ""
		if len(errs) > 0 {
			got = errs[len(errs)-1].Error()
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	old := &corev1.Secret{Type: "Opaque"}
	upd := &corev1.Secret{Type: "foo.io/x"}
	if errs := (strategy{}).ValidateUpdate(ctx, upd, old); len(errs) != 1 || errs[0].Error() != `type: Invalid value: "foo.io/x": field is immutable` {
		t.Errorf("type change: %v", errs)
	}
}

func TestTable(t *testing.T) {
	now := time.Now()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", CreationTimestamp: metav1.NewTime(now.Add(-48 * time.Hour))},
		Type: "Opaque", Data: map[string][]byte{"a": nil, "b": nil}}
	row, _ := table{}.Row(s, now)
	if row[0] != "s" || row[1] != "Opaque" || row[2] != int64(2) || row[3] != "2d" {
		t.Errorf("row = %v", row)
	}
}
