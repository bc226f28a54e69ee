package apiserver

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const bogusJob = `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"%s"},"spec":{"bogusField":1,"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"i"}]}}}}`

func TestFieldValidation(t *testing.T) {
	env := newTestEnv(t)
	for _, tc := range []struct {
		query   string
		code    int
		warning string
		message string
	}{
		{"?fieldValidation=Strict", 400, "", `strict decoding error: unknown field \"spec.bogusField\"`},
		{"?fieldValidation=Warn", 201, `299 - "unknown field \"spec.bogusField\""`, ""},
		{"", 201, `299 - "unknown field \"spec.bogusField\""`, ""},
		{"?fieldValidation=Ignore", 201, "", ""},
		{"?fieldValidation=Bogus", 400, "", "fieldValidation"},
	} {
		name := "j" + strings.ToLower(strings.TrimPrefix(tc.query, "?fieldValidation="))
		body := strings.ReplaceAll(bogusJob, "%s", name)
		resp, data := env.do(t, "POST", "/apis/batch/v1/namespaces/default/jobs"+tc.query, "application/json", []byte(body))
		if resp.StatusCode != tc.code || resp.Header.Get("Warning") != tc.warning || !strings.Contains(string(data), tc.message) {
			t.Errorf("%q: %d warning %q body %s", tc.query, resp.StatusCode, resp.Header.Get("Warning"), data)
		}
	}
	// Duplicate fields, YAML bodies, wrong kinds and bad bodies.
	for _, tc := range []struct {
		ct, body string
		code     int
		contains string
	}{
		{"application/json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d","name":"e"}}`, 400, `duplicate field \"metadata.name\"`},
		{"application/yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yml\n", 201, ""},
		{"application/json", `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"w"}}`, 400, "does not match the expected API version"},
		{"application/json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"w"}}`, 400, "cannot be handled as a ConfigMap"},
		{"application/json", `{not json`, 400, ""},
		{"application/vnd.kubernetes.protobuf", `garbage`, 400, ""},
		{"text/plain", `x`, 415, ""},
	} {
		resp, data := env.do(t, "POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", tc.ct, []byte(tc.body))
		if resp.StatusCode != tc.code || !strings.Contains(string(data), tc.contains) {
			t.Errorf("%s %s: %d %s", tc.ct, tc.body, resp.StatusCode, data)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.MaxRequestBodyBytes = 100 })
	body := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"k":"` + strings.Repeat("x", 200) + `"}}`
	resp, data := env.do(t, "POST", "/api/v1/namespaces/default/configmaps", "application/json", []byte(body))
	if resp.StatusCode != 413 {
		t.Errorf("oversized body: %d %s", resp.StatusCode, data)
	}
}

func TestListPagination(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	cms := env.client.CoreV1().ConfigMaps("default")
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		if _, err := cms.Create(ctx, cm(n, map[string]string{"odd": map[bool]string{true: "y", false: "n"}[n == "a" || n == "c" || n == "e"]}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	opts := metav1.ListOptions{Limit: 2}
	for pages := 0; ; pages++ {
		list, err := cms.List(ctx, opts)
		if err != nil || pages > 5 {
			t.Fatalf("list: %v", err)
		}
		for _, i := range list.Items {
			names = append(names, i.Name)
		}
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	if strings.Join(names, "") != "abcde" {
		t.Errorf("paged names %v", names)
	}
	odd, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "odd=y"})
	if err != nil || len(odd.Items) != 3 {
		t.Errorf("label selector: %v", err)
	}
	byName, err := cms.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=d"})
	if err != nil || len(byName.Items) != 1 || byName.Items[0].Name != "d" {
		t.Errorf("field selector: %v", err)
	}
}
