package patch

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestUpdateObjectManagedFields(t *testing.T) {
	gvk := batchv1.SchemeGroupVersion.WithKind("Job")
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", Labels: map[string]string{"app": "pi"}}}
	out, err := UpdateObjectManagedFields(nil, job.DeepCopy(), gvk, "creator", "")
	if err != nil {
		t.Fatal(err)
	}
	created := out.(*batchv1.Job)
	if len(created.ManagedFields) != 1 {
		t.Fatalf("managedFields after create: %+v", created.ManagedFields)
	}
	e := created.ManagedFields[0]
	if e.Manager != "creator" || e.Operation != metav1.ManagedFieldsOperationUpdate || e.Subresource != "" ||
		!strings.Contains(string(e.FieldsV1.Raw), `"f:app"`) {
		t.Errorf("create entry: %+v %s", e, e.FieldsV1.Raw)
	}

	next := created.DeepCopy()
	next.Status.Active = 2
	out, err = UpdateObjectManagedFields(created, next, gvk, "controller", "status")
	if err != nil {
		t.Fatal(err)
	}
	var status *metav1.ManagedFieldsEntry
	for i, e := range out.(*batchv1.Job).ManagedFields {
		if e.Manager == "controller" {
			status = &out.(*batchv1.Job).ManagedFields[i]
		}
	}
	if status == nil || status.Subresource != "status" || !strings.Contains(string(status.FieldsV1.Raw), `"f:active"`) ||
		strings.Contains(string(status.FieldsV1.Raw), `"f:app"`) {
		t.Errorf("status entry: %+v", out.(*batchv1.Job).ManagedFields)
	}

	for _, tc := range []struct {
		name    string
		obj     runtime.Object
		manager string
	}{
		{"no manager", job.DeepCopy(), ""},
		{"no object", nil, "m"},
		{"wrong type", &batchv1.CronJob{}, "m"},
	} {
		if _, err := UpdateObjectManagedFields(nil, tc.obj, gvk, tc.manager, ""); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}
