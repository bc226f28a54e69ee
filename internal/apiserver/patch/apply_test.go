package patch

import (
	"net/http"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var jobGVK = batchv1.SchemeGroupVersion.WithKind("Job")

const applyJobYAML = `apiVersion: batch/v1
kind: Job
metadata:
  name: pi-ssa
  namespace: default
  labels:
    app: pi
spec:
  completions: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: pi
        image: perl:5.34
        command: ["perl", "-e", "1"]
`

func managers(t *testing.T, j *batchv1.Job) map[string]metav1.ManagedFieldsEntry {
	t.Helper()
	out := map[string]metav1.ManagedFieldsEntry{}
	for _, e := range j.ManagedFields {
		out[e.Manager+"/"+string(e.Operation)] = e
	}
	return out
}

func TestServerSideApplyCreateAndUpdate(t *testing.T) {
	out, err := ServerSideApply(nil, []byte(applyJobYAML), &batchv1.Job{}, jobGVK, "kubectl", false)
	if err != nil {
		t.Fatal(err)
	}
	job := mustDecode[batchv1.Job](t, out)
	if job.Name != "pi-ssa" || *job.Spec.Completions != 2 || job.Spec.Template.Spec.Containers[0].Image != "perl:5.34" {
		t.Fatalf("created %+v", job)
	}
	if job.APIVersion != "batch/v1" || job.Kind != "Job" {
		t.Fatalf("type meta %v", job.TypeMeta)
	}
	e, ok := managers(t, job)["kubectl/Apply"]
	if !ok || len(job.ManagedFields) != 1 {
		t.Fatalf("managedFields %+v", job.ManagedFields)
	}
	if e.FieldsType != "FieldsV1" || e.APIVersion != "batch/v1" || e.Time == nil || e.FieldsV1 == nil {
		t.Fatalf("entry %+v", e)
	}
	for _, f := range []string{`"f:completions"`, `"k:{\"name\":\"pi\"}"`, `"f:app"`} {
		if !strings.Contains(string(e.FieldsV1.Raw), f) {
			t.Fatalf("fields %s lack %s", e.FieldsV1.Raw, f)
		}
	}

	// Same manager, without the label and completions: both go away;
	// a new container is merged by name.
	second := strings.Replace(applyJobYAML, "  labels:\n    app: pi\n", "", 1)
	second = strings.Replace(second, "  completions: 2\n", "", 1)
	second = strings.Replace(second, "        image: perl:5.34\n", "        image: perl:5.36\n", 1)
	out, err = ServerSideApply(out, []byte(second), &batchv1.Job{}, jobGVK, "kubectl", false)
	if err != nil {
		t.Fatal(err)
	}
	job = mustDecode[batchv1.Job](t, out)
	if job.Labels["app"] != "" || job.Spec.Completions != nil {
		t.Fatalf("fields no longer applied were kept: labels %v completions %v", job.Labels, job.Spec.Completions)
	}
	if img := job.Spec.Template.Spec.Containers[0].Image; img != "perl:5.36" {
		t.Fatalf("image %q", img)
	}
}

func TestServerSideApplyConflictAndForce(t *testing.T) {
	out, err := ServerSideApply(nil, []byte(applyJobYAML), &batchv1.Job{}, jobGVK, "alice", false)
	if err != nil {
		t.Fatal(err)
	}
	other := strings.Replace(applyJobYAML, "completions: 2", "completions: 5", 1)
	_, err = ServerSideApply(out, []byte(other), &batchv1.Job{}, jobGVK, "bob", false)
	wantCode(t, err, http.StatusConflict)
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), ".spec.completions") || !strings.Contains(err.Error(), `"alice"`) {
		t.Fatalf("conflict does not name the field and owner: %v", err)
	}
	causes := err.(apierrors.APIStatus).Status().Details.Causes
	if len(causes) != 1 || causes[0].Field != ".spec.completions" || causes[0].Type != metav1.CauseTypeFieldManagerConflict {
		t.Fatalf("causes %+v", causes)
	}

	// Applying the same value is shared ownership, not a conflict.
	if _, err := ServerSideApply(out, []byte(applyJobYAML), &batchv1.Job{}, jobGVK, "bob", false); err != nil {
		t.Fatalf("same value: %v", err)
	}

	out, err = ServerSideApply(out, []byte(other), &batchv1.Job{}, jobGVK, "bob", true)
	if err != nil {
		t.Fatal(err)
	}
	job := mustDecode[batchv1.Job](t, out)
	if *job.Spec.Completions != 5 {
		t.Fatalf("completions %d", *job.Spec.Completions)
	}
	alice := managers(t, job)["alice/Apply"]
	if alice.FieldsV1 == nil || strings.Contains(string(alice.FieldsV1.Raw), "f:completions") {
		t.Fatalf("alice still owns completions after force: %+v", alice)
	}
}

func TestServerSideApplyRejects(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		gvk     string
		manager string
		code    int32
	}{
		{name: "no manager", body: applyJobYAML, code: http.StatusUnprocessableEntity},
		{name: "kind mismatch", body: strings.Replace(applyJobYAML, "kind: Job", "kind: CronJob", 1), manager: "m", code: http.StatusBadRequest},
		{name: "version mismatch", body: strings.Replace(applyJobYAML, "batch/v1", "batch/v2", 1), manager: "m", code: http.StatusBadRequest},
		{name: "broken yaml", body: "apiVersion: [", manager: "m", code: http.StatusBadRequest},
		{name: "empty body", body: "", manager: "m", code: http.StatusBadRequest},
		{name: "managedFields in body", body: strings.Replace(applyJobYAML, "  namespace: default\n", "  namespace: default\n  managedFields: [{manager: x}]\n", 1), manager: "m", code: http.StatusBadRequest},
		{name: "wrong field type", body: strings.Replace(applyJobYAML, "completions: 2", "completions: lots", 1), manager: "m", code: http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ServerSideApply(nil, []byte(tt.body), &batchv1.Job{}, jobGVK, tt.manager, false)
			wantCode(t, err, tt.code)
		})
	}
}

// An object written by a plain update is owned by its writer, so a later
// apply that changes the same field conflicts with it.
func TestUpdateManagedFieldsThenApply(t *testing.T) {
	job := testJob()
	created, err := UpdateManagedFields(nil, mustJSON(t, job), jobGVK, "kubectl-create", "Update")
	if err != nil {
		t.Fatal(err)
	}
	got := mustDecode[batchv1.Job](t, created)
	e, ok := managers(t, got)["kubectl-create/Update"]
	if !ok || e.FieldsV1 == nil || !strings.Contains(string(e.FieldsV1.Raw), "f:parallelism") {
		t.Fatalf("managedFields %+v", got.ManagedFields)
	}

	// A later update by another manager owns only what it changed.
	changed := got.DeepCopy()
	changed.Spec.Parallelism = new(int32)
	*changed.Spec.Parallelism = 2
	updated, err := UpdateManagedFields(created, mustJSON(t, changed), jobGVK, "kubectl-patch", "")
	if err != nil {
		t.Fatal(err)
	}
	m := managers(t, mustDecode[batchv1.Job](t, updated))
	if p := m["kubectl-patch/Update"]; p.FieldsV1 == nil || !strings.Contains(string(p.FieldsV1.Raw), "f:parallelism") || strings.Contains(string(p.FieldsV1.Raw), "f:completions") {
		t.Fatalf("kubectl-patch entry %+v", p)
	}

	body := `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"pi","namespace":"default"},"spec":{"parallelism":9}}`
	_, err = ServerSideApply(updated, []byte(body), &batchv1.Job{}, jobGVK, "kubectl", false)
	wantCode(t, err, http.StatusConflict)
	if !strings.Contains(err.Error(), "kubectl-patch") {
		t.Fatalf("conflict should name kubectl-patch: %v", err)
	}

	if _, err := UpdateManagedFields(nil, mustJSON(t, job), jobGVK, "m", "Apply"); err == nil {
		t.Fatal("operation Apply: want error")
	}
	if _, err := UpdateManagedFields(nil, mustJSON(t, job), jobGVK, "", "Update"); err == nil {
		t.Fatal("empty manager: want error")
	}
}

// kubectl's client-side to server-side apply migration rewrites
// managedFields with a JSON patch; the rewritten list must be kept.
func TestUpdateManagedFieldsTakesClientRewrite(t *testing.T) {
	created, err := UpdateManagedFields(nil, mustJSON(t, testJob()), jobGVK, "kubectl-client-side-apply", "Update")
	if err != nil {
		t.Fatal(err)
	}
	job := mustDecode[batchv1.Job](t, created)
	entry := job.ManagedFields[0]
	entry.Manager, entry.Operation = "kubectl", metav1.ManagedFieldsOperationApply
	rewrite := `[{"op":"replace","path":"/metadata/managedFields","value":[` + string(mustJSON(t, entry)) + `]}]`
	patched, err := Apply(types.JSONPatchType, created, []byte(rewrite), &batchv1.Job{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := UpdateManagedFields(created, patched, jobGVK, "kubectl", "Update")
	if err != nil {
		t.Fatal(err)
	}
	m := managers(t, mustDecode[batchv1.Job](t, out))
	if _, ok := m["kubectl/Apply"]; !ok {
		t.Fatalf("rewritten managedFields lost: %v", m)
	}
	if _, ok := m["kubectl-client-side-apply/Update"]; ok {
		t.Fatalf("old owner kept: %v", m)
	}
}

func TestServerSideApplyPod(t *testing.T) {
	podGVK := corev1.SchemeGroupVersion.WithKind("Pod")
	body := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default"},"spec":{"containers":[{"name":"a","image":"a:1"}]}}`
	out, err := ServerSideApply(nil, []byte(body), nil, podGVK, "kubectl", false)
	if err != nil {
		t.Fatal(err)
	}
	// A second manager adds a container: lists of containers are keyed by name.
	body2 := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default"},"spec":{"containers":[{"name":"b","image":"b:1"}]}}`
	out, err = ServerSideApply(out, []byte(body2), nil, podGVK, "other", false)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(mustDecode[corev1.Pod](t, out).Spec.Containers); len(got) != 2 {
		t.Fatalf("containers %v", got)
	}
}
