package etcd3

import (
	"reflect"
	"testing"

	"github.com/batchlet/batchlet/internal/storage/embedded"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDataSurvivesRestart(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	e, err := embedded.Start(ctx, embedded.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "default", UID: "u1"}}
	created, err := New(e.Client()).Create(ctx, "/registry/jobs/default/j", job)
	if err != nil {
		e.Close()
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e, err = embedded.Start(ctx, embedded.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := New(e.Client())
	got, err := s.Get(ctx, "/registry/jobs/default/j")
	if err != nil {
		t.Fatalf("Get after restart: %v", err)
	}
	if !reflect.DeepEqual(got, created) {
		t.Errorf("after restart got %#v, want %#v", got, created)
	}
	cur, err := s.CurrentRevision(ctx)
	if err != nil || cur < rvOf(t, created) {
		t.Errorf("revision after restart %d (%v), want >= %d", cur, err, rvOf(t, created))
	}
}
