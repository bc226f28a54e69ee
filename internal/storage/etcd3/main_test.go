package etcd3

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/batchlet/batchlet/internal/storage"
	"github.com/batchlet/batchlet/internal/storage/embedded"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
)

// testClient talks to the package's one embedded etcd.
var testClient *clientv3.Client

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "etcd3-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	e, err := embedded.Start(ctx, embedded.Config{DataDir: dir})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer e.Close()
	testClient = e.Client()
	return m.Run()
}

func newTestStore(t testing.TB) *store {
	t.Helper()
	return newStore(testClient, scheme.Scheme)
}

// testPrefix is a key prefix no other test uses.
func testPrefix(t testing.TB) string {
	return "/registry/test/" + strings.ReplaceAll(t.Name(), "/", "_") + "/"
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func configMap(name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: k8stypes.UID("uid-" + name)},
		Data:       data,
	}
}

func mustCreate(t testing.TB, s storage.Interface, key string, obj runtime.Object) runtime.Object {
	t.Helper()
	out, err := s.Create(testCtx(t), key, obj)
	if err != nil {
		t.Fatalf("Create %s: %v", key, err)
	}
	return out
}

func rvOf(t testing.TB, obj runtime.Object) int64 {
	t.Helper()
	rv := obj.(metav1.Object).GetResourceVersion()
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q: %v", rv, err)
	}
	return n
}
