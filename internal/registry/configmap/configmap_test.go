package configmap

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestValidate(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		cm   corev1.ConfigMap
		want string
	}{
		{"ok", corev1.ConfigMap{Data: map[string]string{"game.properties": "x", "ui_mode": "dark"}}, ""},
		{"bad key", corev1.ConfigMap{Data: map[string]string{"a/b": "x"}}, `data[a/b]: Invalid value: "a/b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`},
		{"dup", corev1.ConfigMap{Data: map[string]string{"k": "x"}, BinaryData: map[string][]byte{"k": nil}}, `data[k]: Invalid value: "k": duplicate of key present in binaryData`},
		{"too big", corev1.ConfigMap{Data: map[string]string{"k": strings.Repeat("x", maxSize+1)}}, "Too long"},
	}
	for _, c := range cases {
		errs := strategy{}.Validate(ctx, &c.cm)
		got := ""
		if len(errs) > 0 {
			got = errs[0].Error()
		}
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestImmutable(t *testing.T) {
	ctx := context.Background()
	old := &corev1.ConfigMap{Data: map[string]string{"k": "v"}, Immutable: ptr.To(true)}
	upd := old.DeepCopy()
	upd.Data["k"] = "w"
	upd.Immutable = nil
	errs := strategy{}.ValidateUpdate(ctx, upd, old)
	if len(errs) != 2 || errs[0].Error() != "immutable: Forbidden: field is immutable when `immutable` is set" ||
		errs[1].Error() != "data: Forbidden: field is immutable when `immutable` is set" {
		t.Errorf("errs = %v", errs)
	}
	mutable := &corev1.ConfigMap{Data: map[string]string{"k": "v"}}
	if errs := (strategy{}).ValidateUpdate(ctx, upd, mutable); len(errs) != 0 {
		t.Errorf("mutable update: %v", errs)
	}
}

func TestTable(t *testing.T) {
	now := time.Now()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", CreationTimestamp: metav1.NewTime(now.Add(-time.Minute))},
		Data: map[string]string{"a": "1"}, BinaryData: map[string][]byte{"b": nil}}
	row, _ := table{}.Row(cm, now)
	if row[0] != "c" || row[1] != int64(2) || row[2] != "60s" {
		t.Errorf("row = %v", row)
	}
}
