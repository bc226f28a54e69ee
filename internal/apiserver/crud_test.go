package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchlet/batchlet/internal/apiserver/authn"
)

func newJob(name string) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "pi"}},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "pi", Image: "perl"}},
		}}},
	}
}

func TestCRUD(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	jobs := env.client.BatchV1().Jobs("default")

	created, err := jobs.Create(ctx, newJob("pi"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.UID == "" || created.ResourceVersion == "" || created.Generation != 1 || created.Namespace != "default" {
		t.Fatalf("create did not fill server fields: %+v", created.ObjectMeta)
	}
	if !created.CreationTimestamp.Time.Equal(testNow) {
		t.Errorf("creationTimestamp = %v, want %v", created.CreationTimestamp, testNow)
	}
	if *created.Spec.Completions != 1 {
		t.Errorf("defaulting not applied")
	}
	if _, err := jobs.Create(ctx, newJob("pi"), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: %v, want AlreadyExists", err)
	}

	got, err := jobs.Get(ctx, "pi", metav1.GetOptions{})
	if err != nil || got.UID != created.UID {
		t.Fatalf("get: %v %v", got, err)
	}

	got.Labels["tier"] = "demo"
	got.Spec.Parallelism = ptr(int32(2))
	updated, err := jobs.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if updated.Generation != 2 || updated.Labels["tier"] != "demo" {
		t.Errorf("update: generation %d labels %v", updated.Generation, updated.Labels)
	}
	// Stale resourceVersion → 409 with upstream's text.
	_, err = jobs.Update(ctx, got, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) || err.Error() != `Operation cannot be fulfilled on jobs.batch "pi": the object has been modified; please apply your changes to the latest version and try again` {
		t.Errorf("stale update: %v", err)
	}
	// A no-op update keeps the resourceVersion.
	same, err := jobs.Update(ctx, updated, metav1.UpdateOptions{})
	if err != nil || same.ResourceVersion != updated.ResourceVersion {
		t.Errorf("no-op update changed RV %s → %s (%v)", updated.ResourceVersion, same.ResourceVersion, err)
	}
	// No create on update.
	if _, err := jobs.Update(ctx, newJob("nope"), metav1.UpdateOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("update of missing object: %v, want NotFound", err)
	}

	list, err := jobs.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 || list.ResourceVersion == "" {
		t.Fatalf("list: %+v %v", list, err)
	}

	// Jobs default to Orphan: a delete without options keeps the job with
	// the orphan finalizer; kubectl's Background removes it.
	if err := jobs.Delete(ctx, "pi", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	held, err := jobs.Get(ctx, "pi", metav1.GetOptions{})
	if err != nil || held.DeletionTimestamp == nil || !contains(held.Finalizers, "orphan") {
		t.Fatalf("orphan delete: %+v %v", held, err)
	}
	held.Finalizers = nil
	if _, err := jobs.Update(ctx, held, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("removing finalizer: %v", err)
	}
	if _, err := jobs.Get(ctx, "pi", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after last finalizer: %v, want NotFound", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestCreateErrors(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	bad := newJob("bad")
	bad.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
	_, err := env.client.BatchV1().Jobs("default").Create(ctx, bad, metav1.CreateOptions{})
	want := `Job.batch "bad" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"`
	if !apierrors.IsInvalid(err) || err.Error() != want {
		t.Errorf("invalid create: %v", err)
	}
	_, err = env.client.BatchV1().Jobs("missing").Create(ctx, newJob("x"), metav1.CreateOptions{})
	if !apierrors.IsNotFound(err) || err.Error() != `namespaces "missing" not found` {
		t.Errorf("create in missing namespace: %v", err)
	}
	other := newJob("y")
	other.Namespace = "other"
	_, err = env.client.BatchV1().Jobs("default").Create(ctx, other, metav1.CreateOptions{})
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "the namespace of the provided object does not match the namespace sent on the request") {
		t.Errorf("namespace mismatch: %v", err)
	}
	_, err = env.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "Bad_Name"}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Errorf("bad name: %v", err)
	}
	gen, err := env.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "cm-"}}, metav1.CreateOptions{})
	if err != nil || !strings.HasPrefix(gen.Name, "cm-") || len(gen.Name) != 8 {
		t.Errorf("generateName: %v %v", gen, err)
	}
	dry, err := env.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dry"}}, metav1.CreateOptions{DryRun: []string{"All"}})
	if err != nil || dry.Name != "dry" {
		t.Errorf("dry run: %v", err)
	}
	if _, err := env.client.CoreV1().ConfigMaps("default").Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("dry run stored the object: %v", err)
	}
}

func TestNamespaceTerminating(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	if _, err := env.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := env.client.CoreV1().Namespaces().Delete(ctx, "x", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ns, err := env.client.CoreV1().Namespaces().Get(ctx, "x", metav1.GetOptions{})
	if err != nil || ns.Status.Phase != corev1.NamespaceTerminating || ns.DeletionTimestamp == nil {
		t.Fatalf("namespace after delete: %+v %v", ns, err)
	}
	_, err = env.client.CoreV1().ConfigMaps("x").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "unable to create new content in namespace x because it is being terminated") {
		t.Fatalf("create in terminating namespace: %v", err)
	}
	if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		t.Errorf("missing NamespaceTerminating cause: %v", err)
	}
	ns.Spec.Finalizers = nil
	if _, err := env.client.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("finalize: %v", err)
	}
	if _, err := env.client.CoreV1().Namespaces().Get(ctx, "x", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("finalized namespace still there: %v", err)
	}
}

func TestRawPaths(t *testing.T) {
	env := newTestEnv(t)
	for _, tc := range []struct {
		method, path string
		code         int
		contains     string
	}{
		{"GET", "/version", 200, "gitVersion"},
		{"GET", "/healthz", 200, "ok"},
		{"GET", "/readyz", 200, "ok"},
		{"GET", "/apis/batch/v1/namespaces/default/jobs/x/scale", 404, "the server could not find the requested resource"},
		{"PATCH", "/apis/batch/v1/namespaces/default/jobs/x/scale", 404, "the server could not find the requested resource"},
		{"GET", "/apis/nope/v1/things", 404, "the server could not find the requested resource"},
		{"GET", "/api/v1/nodes/n1", 404, `nodes \"n1\" not found`},
		{"GET", "/api/v1/namespaces/default/nodes", 404, "could not find"},
		{"GET", "/api/v1/jobs", 404, "could not find"},
		{"GET", "/apis/batch/v1/jobs", 200, "JobList"},
		{"GET", "/api/v1/namespaces/default", 200, `"kind":"Namespace"`},
		{"GET", "/apis/batch/v1/namespaces/default/jobs?fieldSelector=bogus%3Dx", 400, "field label not supported: bogus"},
		{"GET", "/apis/batch/v1/namespaces/default/jobs?fieldSelector=status.successful%3D1", 200, "JobList"},
		{"GET", "/apis/batch/v1/namespaces/default/jobs?labelSelector=%3D%3D", 400, ""},
		{"PUT", "/apis/batch/v1/namespaces/default/jobs", 405, ""},
	} {
		resp, body := env.do(t, tc.method, tc.path, "", nil)
		if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.contains) {
			t.Errorf("%s %s = %d %s, want %d containing %q", tc.method, tc.path, resp.StatusCode, body, tc.code, tc.contains)
		}
		if tc.code >= 400 {
			var st metav1.Status
			if err := json.Unmarshal(body, &st); err != nil || st.Kind != "Status" || st.Code != int32(tc.code) {
				t.Errorf("%s %s: body is not a Status: %s", tc.method, tc.path, body)
			}
		}
	}
}

type denyAll struct{}

func (denyAll) Authenticate(r *http.Request) (*authn.UserInfo, bool, error) {
	if r.Header.Get("Authorization") == "Bearer good" {
		return &authn.UserInfo{Name: "admin"}, true, nil
	}
	return nil, false, nil
}

func TestAuthentication(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.Authenticator = denyAll{} })
	for _, tc := range []struct {
		path  string
		token string
		code  int
	}{
		{"/version", "", 200},
		{"/readyz", "", 200},
		{"/livez", "", 200},
		{"/api/v1/namespaces", "", 401},
		{"/api/v1/namespaces", "bad", 401},
		{"/api/v1/namespaces", "good", 200},
		{"/apis", "", 401},
	} {
		var hdr []string
		if tc.token != "" {
			hdr = []string{"Authorization", "Bearer " + tc.token}
		}
		resp, body := env.do(t, "GET", tc.path, "", nil, hdr...)
		if resp.StatusCode != tc.code {
			t.Errorf("GET %s (token %q) = %d, want %d", tc.path, tc.token, resp.StatusCode, tc.code)
		}
		if tc.code == 401 && !strings.Contains(string(body), `"reason":"Unauthorized"`) {
			t.Errorf("401 body: %s", body)
		}
	}
}

func TestReadyz(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.Ready = func() error { return errors.New("etcd not ready") } })
	resp, _ := env.do(t, "GET", "/readyz", "", nil)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("/readyz when not ready = %d", resp.StatusCode)
	}
}
