package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/batchlet/batchlet/internal/registry"
	"github.com/batchlet/batchlet/internal/registry/job"
	"github.com/batchlet/batchlet/internal/storage"
)

// withResource replaces the test kind of the same plural with res.
func withResource(res registry.Resource) func(*Config) {
	return func(cfg *Config) {
		out := []registry.Resource{res}
		for _, r := range cfg.Resources {
			if r.Plural != res.Plural {
				out = append(out, r)
			}
		}
		cfg.Resources = out
	}
}

func TestCreateGenerateNameRealJob(t *testing.T) {
	env := newTestEnv(t, withResource(job.Resource()))
	ctx := context.Background()
	j := newJob("")
	j.GenerateName = "pi-"
	got, err := env.client.BatchV1().Jobs("default").Create(ctx, j, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create with generateName: %v", err)
	}
	if !strings.HasPrefix(got.Name, "pi-") || len(got.Name) != len("pi-")+randomNameLength {
		t.Fatalf("generated name %q", got.Name)
	}
	// The job strategy copies the final name into the pod template labels.
	for _, key := range []string{batchv1.JobNameLabel, "job-name"} {
		if v := got.Spec.Template.Labels[key]; v != got.Name {
			t.Errorf("template label %s = %q, want %q", key, v, got.Name)
		}
	}
}

// Every attempt after a collision gets a new name and a freshly prepared
// object whose labels carry that name.
func TestCreateGenerateNameRetriesOnCollision(t *testing.T) {
	env := newTestEnv(t, withResource(job.Resource()))
	ctx := context.Background()
	rq := &request{res: env.api.lookup(batchv1.SchemeGroupVersion, "jobs"), namespace: "default"}
	// A store that reports "exists" for the first two creates.
	store := &collidingStore{memStore: env.store, collisions: 2}
	env.api.store = store
	j := newJob("")
	j.GenerateName = "pi-"
	out, err := env.api.create(ctx, rq, j, createOptions{manager: "test"})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	got := out.(*batchv1.Job)
	if store.creates != 3 {
		t.Errorf("store saw %d creates, want 3", store.creates)
	}
	if got.Spec.Template.Labels[batchv1.JobNameLabel] != got.Name {
		t.Errorf("template labels do not follow the final name %q: %v", got.Name, got.Spec.Template.Labels)
	}
	if len(store.names) != 3 || store.names[0] == store.names[1] || store.names[1] == store.names[2] {
		t.Errorf("names tried: %v", store.names)
	}
	// A fixed name is not retried.
	store.collisions = 1
	store.creates = 0
	if _, err := env.api.create(ctx, rq, newJob("fixed"), createOptions{}); !apierrors.IsAlreadyExists(err) || store.creates != 1 {
		t.Errorf("fixed name: %v after %d creates", err, store.creates)
	}
}

// collidingStore fails the first creates with "exists".
type collidingStore struct {
	*memStore
	collisions int
	creates    int
	names      []string
}

func (c *collidingStore) Create(ctx context.Context, key string, obj runtime.Object) (runtime.Object, error) {
	c.creates++
	if acc, err := accessor(obj); err == nil {
		c.names = append(c.names, acc.GetName())
		if j, ok := obj.(*batchv1.Job); ok && j.Spec.Template.Labels[batchv1.JobNameLabel] != acc.GetName() {
			return nil, fmt.Errorf("job %s prepared under another name: %v", acc.GetName(), j.Spec.Template.Labels)
		}
	}
	if c.collisions > 0 {
		c.collisions--
		return nil, storage.NewError(storage.ErrCodeKeyExists, key, "exists")
	}
	return c.memStore.Create(ctx, key, obj)
}

func TestCreateDryRunGenerateName(t *testing.T) {
	env := newTestEnv(t, withResource(job.Resource()))
	body := `{"apiVersion":"batch/v1","kind":"Job","metadata":{"generateName":"dry-"},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}`
	resp, data := env.do(t, http.MethodPost, "/apis/batch/v1/namespaces/default/jobs?dryRun=All", "application/json", []byte(body))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("dry run: %d %s", resp.StatusCode, data)
	}
	list, err := env.client.BatchV1().Jobs("default").List(context.Background(), metav1.ListOptions{})
	if err != nil || len(list.Items) != 0 {
		t.Fatalf("dry run stored something: %v %v", list, err)
	}
}

func TestUserAgentManager(t *testing.T) {
	for _, tc := range []struct{ ua, want string }{
		{"kubectl/v1.32.0 (linux/amd64) kubernetes/abc", "kubectl"},
		{"batchlet-job-controller", "batchlet-job-controller"},
		{"", ""},
		{"a\x01b/c", "ab"},
		{strings.Repeat("x", 200), strings.Repeat("x", 128)},
	} {
		if got := userAgentManager(tc.ua); got != tc.want {
			t.Errorf("userAgentManager(%q) = %q, want %q", tc.ua, got, tc.want)
		}
	}
}
