package server_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/batchlet/batchlet/internal/inproc"
	"github.com/batchlet/batchlet/internal/server"
	"github.com/batchlet/batchlet/internal/server/servertest"
	"github.com/batchlet/batchlet/internal/testutil"
)

// responseTypes records the Content-Type of each response.
type responseTypes struct {
	mu   sync.Mutex
	seen map[string]string // "METHOD path?watch" → Content-Type
	next http.RoundTripper
}

func (c *responseTypes) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err == nil {
		key := r.Method + " " + r.URL.Path
		if r.URL.Query().Get("watch") == "true" {
			key += "?watch"
		}
		c.mu.Lock()
		c.seen[key] = resp.Header.Get("Content-Type")
		c.mu.Unlock()
	}
	return resp, err
}

func (c *responseTypes) of(key string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[key]
}

// TestInProcessClientsReceiveObjects: the components' configuration gets
// responses and watch events handed over by reference; what a client
// decodes is its own copy, equal to what a protobuf client decodes.
func TestInProcessClientsReceiveObjects(t *testing.T) {
	s := servertest.Start(t, func(c *server.Config) { c.DisableAgent = true })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := s.ComponentConfig()
	rec := &responseTypes{seen: map[string]string{}}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { rec.next = rt; return rec })
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cms := client.CoreV1().ConfigMaps("default")
	w, err := cms.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	w2, err := cms.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()

	created, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"},
		Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Name != "cm" || created.Data["k"] != "v" || created.ResourceVersion == "" || created.UID == "" {
		t.Fatalf("created = %+v", created)
	}
	if created.Kind != "" || created.APIVersion != "" {
		t.Errorf("created has kind %q/%q; typed clients get objects without one, as from protobuf", created.APIVersion, created.Kind)
	}
	// A write's response is what the wire gives: times in whole seconds.
	if ns := created.CreationTimestamp.Nanosecond(); ns != 0 {
		t.Errorf("creationTimestamp in the create response has %d ns; the wire keeps seconds", ns)
	}
	// A client changing what it got changes nothing for others.
	created.Data["k"] = "changed by the client"

	ev := nextWatchEvent(t, w)
	ev2 := nextWatchEvent(t, w2)
	got, ok := ev.Object.(*corev1.ConfigMap)
	got2, ok2 := ev2.Object.(*corev1.ConfigMap)
	if ev.Type != watch.Added || ev2.Type != watch.Added || !ok || !ok2 {
		t.Fatalf("events %s %T, %s %T; want ADDED ConfigMaps", ev.Type, ev.Object, ev2.Type, ev2.Object)
	}
	if got == got2 {
		t.Fatal("two watchers got the same object; each must get its own")
	}
	if got.Data["k"] != "v" || got.ResourceVersion != created.ResourceVersion {
		t.Errorf("watched %v at %s; want k=v at %s", got.Data, got.ResourceVersion, created.ResourceVersion)
	}
	got.Data["k"] = "changed by a watcher"
	if got2.Data["k"] != "v" {
		t.Errorf("second watcher sees %q after the first changed its copy", got2.Data["k"])
	}

	read, err := cms.Get(ctx, "cm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if read.Data["k"] != "v" {
		t.Errorf("get = %v after clients changed their copies", read.Data)
	}
	read.Data["k"] = "updated"
	updated, err := cms.Update(ctx, read, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextWatchEvent(t, w); ev.Type != watch.Modified || ev.Object.(*corev1.ConfigMap).Data["k"] != "updated" {
		t.Errorf("event after update: %s %v", ev.Type, ev.Object)
	}
	if updated.Data["k"] != "updated" {
		t.Errorf("update response %v", updated.Data)
	}
	list, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "cm" || list.ResourceVersion == "" {
		t.Errorf("list = %+v", list)
	}
	if err := cms.Delete(ctx, "cm", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"GET /api/v1/namespaces/default/configmaps/cm":    inproc.ObjectMediaType,
		"GET /api/v1/namespaces/default/configmaps":       inproc.ObjectMediaType,
		"GET /api/v1/namespaces/default/configmaps?watch": inproc.ObjectMediaType,
		"POST /api/v1/namespaces/default/configmaps":      "application/vnd.kubernetes.protobuf",
		"PUT /api/v1/namespaces/default/configmaps/cm":    "application/vnd.kubernetes.protobuf",
		"DELETE /api/v1/namespaces/default/configmaps/cm": "application/vnd.kubernetes.protobuf",
	} {
		if ct := rec.of(key); ct != want {
			t.Errorf("%s answered in %q, want %s", key, ct, want)
		}
	}

	// Errors stay Status objects the client reads.
	_, err = cms.Get(ctx, "missing", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("get of a missing ConfigMap: %v, want NotFound", err)
	}
}

// TestObjectMediaTypeOnlyInProcess: a network client asking only for
// objects by reference is refused, as for any media type the server does
// not speak; one that also takes protobuf gets protobuf.
func TestObjectMediaTypeOnlyInProcess(t *testing.T) {
	s := servertest.Start(t, func(c *server.Config) { c.DisableAgent = true })
	ctx := context.Background()
	for _, c := range []struct {
		accept string
		want   int
		ct     string
	}{
		{inproc.ObjectMediaType, http.StatusNotAcceptable, ""},
		{inproc.ObjectMediaType + ",application/vnd.kubernetes.protobuf", http.StatusOK, "application/vnd.kubernetes.protobuf"},
	} {
		cfg := s.RESTConfig()
		cfg.AcceptContentTypes = c.accept
		rec := &responseTypes{seen: map[string]string{}}
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { rec.next = rt; return rec })
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = client.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
		code := http.StatusOK
		if status, ok := err.(apierrors.APIStatus); ok {
			code = int(status.Status().Code)
		} else if err != nil {
			code = -1
		}
		if code != c.want {
			t.Errorf("Accept %s over TLS: %d (%v), want %d", c.accept, code, err, c.want)
		}
		if ct := rec.of("GET /api/v1/namespaces/default"); c.ct != "" && ct != c.ct {
			t.Errorf("Accept %s over TLS answered in %q, want %s", c.accept, ct, c.ct)
		}
	}
}

func nextWatchEvent(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	return testutil.NextEvent(t, w, 30*time.Second)
}

// TestInProcessWritesKeepWireSemantics: times cross the wire in whole
// seconds, and controllers rely on it. A status write carrying a
// startTime with nanoseconds is stored without them; the writer's own
// copy, sent again, must be judged equal to what is stored (Job
// validation refuses a changed startTime), and so must the response.
// Handing bodies or write responses over by reference would keep the
// nanoseconds, which is why only reads are handed over.
func TestInProcessWritesKeepWireSemantics(t *testing.T) {
	s := servertest.Start(t, func(c *server.Config) { c.DisableAgent = true })
	ctx := context.Background()
	client, err := kubernetes.NewForConfig(s.ComponentConfig())
	if err != nil {
		t.Fatal(err)
	}
	jobs := client.BatchV1().Jobs("default")
	other := "example.com/other-controller" // keeps the Job controller away
	job, err := jobs.Create(ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j"}, Spec: batchv1.JobSpec{
		ManagedBy: &other,
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	start := metav1.NewTime(time.Now().Truncate(time.Second).Add(123456789))
	job.Status.StartTime = &start
	local := job.DeepCopy()
	job, err = jobs.UpdateStatus(ctx, job, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns := job.Status.StartTime.Nanosecond(); ns != 0 {
		t.Errorf("startTime in the response has %d ns; the wire keeps seconds", ns)
	}
	// The same startTime again, from the writer's own copy that still
	// has its nanoseconds, as the Job controller's second write of a sync.
	local.ResourceVersion = job.ResourceVersion
	local.Status.Active = 1
	if job, err = jobs.UpdateStatus(ctx, local, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("status write from the writer's copy: %v", err)
	}
	job.Status.Active = 2
	if _, err := jobs.UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
		t.Errorf("status write from the previous response: %v", err)
	}
}
