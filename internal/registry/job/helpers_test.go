package job

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/yaml"
)

const testUID = types.UID("0a1b2c3d-0000-4000-8000-000000000001")

// loadJob decodes a fixture from testdata.
func loadJob(t *testing.T, name string) *batchv1.Job {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	var j batchv1.Job
	if err := yaml.NewYAMLOrJSONDecoder(strings.NewReader(string(data)), 4096).Decode(&j); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return &j
}

// admit runs a new Job through the create path of the generic layer:
// defaulting, UID assignment, PrepareForCreate, then validation.
func admit(j *batchv1.Job) field.ErrorList {
	s := strategy{}
	s.Default(j)
	if j.Namespace == "" {
		j.Namespace = "default"
	}
	j.UID = testUID
	s.PrepareForCreate(context.Background(), j)
	return s.Validate(context.Background(), j)
}

// created returns a fixture as stored after a successful create.
func created(t *testing.T, name string) *batchv1.Job {
	t.Helper()
	j := loadJob(t, name)
	if errs := admit(j); len(errs) > 0 {
		t.Fatalf("create %s: %v", name, errs.ToAggregate())
	}
	return j
}

// errorText joins the errors the way a 422 message lists them.
func errorText(errs field.ErrorList) string {
	if len(errs) == 0 {
		return ""
	}
	return errs.ToAggregate().Error()
}

func wantErrors(t *testing.T, errs field.ErrorList, want []string) {
	t.Helper()
	got := errorText(errs)
	if len(want) == 0 && len(errs) > 0 {
		t.Fatalf("unexpected errors: %s", got)
	}
	if len(want) > 0 && len(errs) == 0 {
		t.Fatalf("no errors, want %q", want)
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("errors %q\n  do not contain %q", got, w)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
