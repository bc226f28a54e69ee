package cronjob

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/yaml"
)

func load(t *testing.T, name string) *batchv1.CronJob {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	var cj batchv1.CronJob
	if err := yaml.NewYAMLOrJSONDecoder(strings.NewReader(string(data)), 4096).Decode(&cj); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return &cj
}

// admit runs a new CronJob through the create path.
func admit(cj *batchv1.CronJob) field.ErrorList {
	s := strategy{}
	s.Default(cj)
	cj.UID = "00000000-0000-4000-8000-0000000000c1"
	s.PrepareForCreate(context.Background(), cj)
	return s.Validate(context.Background(), cj)
}

func created(t *testing.T, name string) *batchv1.CronJob {
	t.Helper()
	cj := load(t, name)
	if errs := admit(cj); len(errs) > 0 {
		t.Fatalf("create %s: %v", name, errs.ToAggregate())
	}
	return cj
}

func wantErrors(t *testing.T, errs field.ErrorList, want []string) {
	t.Helper()
	got := ""
	if len(errs) > 0 {
		got = errs.ToAggregate().Error()
	}
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
