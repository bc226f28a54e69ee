package etcd3

import (
	"reflect"
	"strings"
	"testing"

	"github.com/batchlet/batchlet/internal/storage"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

func TestCreateGetRealTypes(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	prefix := testPrefix(t)
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default", Labels: map[string]string{"app": "pi"}},
		Spec: batchv1.JobSpec{
			Completions: ptr.To[int32](3),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "pi", Image: "perl", Command: []string{"perl", "-e", "1"}}},
			}},
		},
	}
	cm := configMap("cfg", map[string]string{"a": "1"})
	for _, obj := range []metav1.Object{job, cm} {
		key := prefix + obj.GetName()
		in := obj.(runtime.Object)
		before := in.DeepCopyObject()
		created, err := s.Create(ctx, key, in)
		if err != nil {
			t.Fatalf("Create %s: %v", key, err)
		}
		if !reflect.DeepEqual(in, before) {
			t.Errorf("Create modified the caller's object")
		}
		if created == in {
			t.Errorf("Create returned the caller's object")
		}
		rv := rvOf(t, created)
		if created.GetObjectKind().GroupVersionKind() != (schema.GroupVersionKind{}) {
			t.Errorf("created object has TypeMeta %v", created.GetObjectKind().GroupVersionKind())
		}

		got, err := s.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get %s: %v", key, err)
		}
		if rvOf(t, got) != rv {
			t.Errorf("Get resourceVersion = %d, want %d", rvOf(t, got), rv)
		}
		if !reflect.DeepEqual(got, created) {
			t.Errorf("Get returned %#v, want %#v", got, created)
		}

		// The stored bytes carry no resourceVersion.
		resp, err := testClient.Get(ctx, key)
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("raw get: %v %v", resp, err)
		}
		raw, err := s.codec.decode(resp.Kvs[0].Value, 0)
		if err != nil {
			t.Fatalf("decode raw: %v", err)
		}
		if v := raw.(metav1.Object).GetResourceVersion(); v != "" {
			t.Errorf("stored resourceVersion = %q, want none", v)
		}
		if !strings.HasPrefix(string(resp.Kvs[0].Value), "k8s\x00") {
			t.Errorf("stored value is not Kubernetes protobuf")
		}

		if _, err := s.Create(ctx, key, in); !storage.IsExists(err) {
			t.Errorf("second Create: %v, want KeyExists", err)
		}
	}
	if _, ok := mustGet(t, s, prefix+"pi").(*batchv1.Job); !ok {
		t.Errorf("Get did not return a *batchv1.Job")
	}
}

func mustGet(t *testing.T, s storage.Interface, key string) runtime.Object {
	t.Helper()
	obj, err := s.Get(testCtx(t), key)
	if err != nil {
		t.Fatalf("Get %s: %v", key, err)
	}
	return obj
}

func TestGetMissing(t *testing.T) {
	s := newTestStore(t)
	_, err := s.Get(testCtx(t), testPrefix(t)+"nope")
	if !storage.IsNotFound(err) {
		t.Fatalf("Get missing: %v, want KeyNotFound", err)
	}
}

func TestCreateRejects(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	cm := configMap("x", nil)
	cm.ResourceVersion = "12"
	if _, err := s.Create(ctx, testPrefix(t)+"x", cm); err == nil {
		t.Errorf("Create with a resourceVersion succeeded")
	}
	if _, err := s.Create(ctx, "relative/key", configMap("y", nil)); err == nil {
		t.Errorf("Create with a relative key succeeded")
	}
	if _, err := s.Create(ctx, testPrefix(t)+"z", &metav1.Status{}); err == nil {
		t.Errorf("Create of an object without ObjectMeta succeeded")
	}
}

func TestCurrentRevision(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	before, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	created := mustCreate(t, s, testPrefix(t)+"a", configMap("a", nil))
	after, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after < rvOf(t, created) || after <= before {
		t.Errorf("CurrentRevision before %d after %d, created at %d", before, after, rvOf(t, created))
	}
}
