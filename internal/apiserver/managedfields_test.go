package apiserver

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/csaupgrade"
)

// managers maps manager name to its entry.
func managers(obj metav1.Object) map[string]metav1.ManagedFieldsEntry {
	out := map[string]metav1.ManagedFieldsEntry{}
	for _, e := range obj.GetManagedFields() {
		out[e.Manager] = e
	}
	return out
}

func owns(e metav1.ManagedFieldsEntry, field string) bool {
	return e.FieldsV1 != nil && strings.Contains(string(e.FieldsV1.Raw), `"`+field+`"`)
}

func TestManagedFieldsRecordedOnWrites(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	jobs := env.client.BatchV1().Jobs("default")
	j := newJob("pi")
	j.Labels["tier"] = "demo"
	created, err := jobs.Create(ctx, j, metav1.CreateOptions{FieldManager: "kubectl-client-side-apply"})
	if err != nil {
		t.Fatal(err)
	}
	csa, ok := managers(created)["kubectl-client-side-apply"]
	if !ok || csa.Operation != metav1.ManagedFieldsOperationUpdate || csa.APIVersion != "batch/v1" ||
		!owns(csa, "f:tier") || !owns(csa, "f:completions") || owns(csa, "f:status") {
		t.Fatalf("create entry: %+v", created.ManagedFields)
	}

	// Without fieldManager the User-Agent up to "/" names the manager.
	cfg := *env.config
	cfg.UserAgent = "my-tool/1.2 (linux/amd64)"
	tool := kubernetes.NewForConfigOrDie(&cfg)
	created.Annotations = map[string]string{"note": "x"}
	updated, err := tool.BatchV1().Jobs("default").Update(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := managers(updated)["my-tool"]; !ok || !owns(e, "f:note") || owns(e, "f:tier") {
		t.Fatalf("update entry: %+v", updated.ManagedFields)
	}

	patched, err := jobs.Patch(ctx, "pi", types.MergePatchType, []byte(`{"metadata":{"labels":{"extra":"1"}}}`),
		metav1.PatchOptions{FieldManager: "kubectl-patch"})
	if err != nil {
		t.Fatal(err)
	}
	m := managers(patched)
	if e, ok := m["kubectl-patch"]; !ok || !owns(e, "f:extra") {
		t.Fatalf("patch entry: %+v", patched.ManagedFields)
	}
	if len(m) != 3 {
		t.Errorf("managers after three writes: %v", m)
	}

	// A /status write is recorded under the status subresource and
	// leaves the main resource's managers alone.
	patched.Status.Active = 1
	st, err := jobs.UpdateStatus(ctx, patched, metav1.UpdateOptions{FieldManager: "status-writer"})
	if err != nil {
		t.Fatal(err)
	}
	m = managers(st)
	if e, ok := m["status-writer"]; !ok || e.Subresource != "status" || !owns(e, "f:active") || owns(e, "f:app") || len(m) != 4 {
		t.Errorf("status write: %+v", st.ManagedFields)
	}

	// An invalid fieldManager is rejected as upstream does.
	_, err = jobs.Create(ctx, newJob("bad"), metav1.CreateOptions{FieldManager: strings.Repeat("m", 129)})
	if err == nil || !strings.Contains(err.Error(), "fieldManager") {
		t.Errorf("long fieldManager: %v", err)
	}
}

// kubectl apply --server-side after client-side apply migrates the
// client-side manager's fields to "kubectl" with a JSON patch on
// managedFields; from then on fields dropped from the manifest go away.
func TestManagedFieldsClientToServerSideApplyMigration(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	jobs := env.client.BatchV1().Jobs("default")
	j := newJob("pi")
	j.Labels["tier"] = "demo"
	if _, err := jobs.Create(ctx, j, metav1.CreateOptions{FieldManager: "kubectl-client-side-apply"}); err != nil {
		t.Fatal(err)
	}
	live, err := jobs.Get(ctx, "pi", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	migration, err := csaupgrade.UpgradeManagedFieldsPatch(live, sets.New("kubectl-client-side-apply"), "kubectl")
	if err != nil || migration == nil {
		t.Fatalf("no migration patch (%v): managedFields %+v", err, live.ManagedFields)
	}
	if _, err := jobs.Patch(ctx, "pi", types.JSONPatchType, migration, metav1.PatchOptions{FieldManager: "kubectl"}); err != nil {
		t.Fatalf("migration patch: %v", err)
	}
	manifest := newJob("pi") // without the tier label
	manifest.TypeMeta = metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}
	body, err := json.Marshal(manifest)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := jobs.Patch(ctx, "pi", types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "kubectl"})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if _, ok := applied.Labels["tier"]; ok {
		t.Errorf("label dropped from the manifest survived the apply: %v", applied.Labels)
	}
	m := managers(applied)
	if _, ok := m["kubectl-client-side-apply"]; ok || m["kubectl"].Operation != metav1.ManagedFieldsOperationApply {
		t.Errorf("managers after migration: %+v", applied.ManagedFields)
	}
}
