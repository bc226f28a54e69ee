package namespace

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCreateAndUpdate(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
	s := strategy{}
	s.Default(ns)
	s.PrepareForCreate(ctx, ns)
	if ns.Status.Phase != corev1.NamespaceActive {
		t.Errorf("phase = %s", ns.Status.Phase)
	}
	if len(ns.Spec.Finalizers) != 1 || ns.Spec.Finalizers[0] != corev1.FinalizerKubernetes {
		t.Errorf("finalizers = %v", ns.Spec.Finalizers)
	}
	if ns.Labels[corev1.LabelMetadataName] != "team-a" {
		t.Errorf("labels = %v", ns.Labels)
	}
	if errs := s.Validate(ctx, ns); len(errs) > 0 {
		t.Errorf("validate: %v", errs)
	}

	upd := ns.DeepCopy()
	upd.Labels = map[string]string{corev1.LabelMetadataName: "other"}
	upd.Spec.Finalizers = nil
	s.Default(upd)
	s.PrepareForUpdate(ctx, upd, ns)
	if upd.Labels[corev1.LabelMetadataName] != "team-a" || len(upd.Spec.Finalizers) != 1 {
		t.Errorf("update changed protected fields: %v %v", upd.Labels, upd.Spec.Finalizers)
	}

	fin := ns.DeepCopy()
	fin.Spec.Finalizers = nil
	fin.Labels["x"] = "y"
	PrepareForFinalize(fin, ns)
	if len(fin.Spec.Finalizers) != 0 || fin.Labels["x"] != "" {
		t.Errorf("finalize: finalizers %v labels %v", fin.Spec.Finalizers, fin.Labels)
	}
}

func TestNames(t *testing.T) {
	r := Resource()
	for name, valid := range map[string]bool{"default": true, "kube-system": true, "a.b": false, "Upper": false} {
		if got := len(r.NameValidator(name, false)) == 0; got != valid {
			t.Errorf("name %q valid = %v, want %v", name, got, valid)
		}
	}
}

func TestValidation(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"foo"}}}
	errs := strategy{}.Validate(ctx, ns)
	if len(errs) != 1 || errs[0].Error() != `spec.finalizers[0]: Invalid value: "foo": name is neither a standard finalizer name nor is it fully qualified` {
		t.Errorf("errs = %v", errs)
	}
	now := metav1.Now()
	cases := []struct {
		deleting bool
		phase    corev1.NamespacePhase
		want     string
	}{
		{false, corev1.NamespaceActive, ""},
		{false, corev1.NamespaceTerminating, `status.Phase: Invalid value: "Terminating": may only be 'Active' if ` + "`deletionTimestamp`" + ` is empty`},
		{true, corev1.NamespaceTerminating, ""},
		{true, corev1.NamespaceActive, `status.Phase: Invalid value: "Active": may only be 'Terminating' if ` + "`deletionTimestamp`" + ` is not empty`},
	}
	for _, c := range cases {
		ns := &corev1.Namespace{Status: corev1.NamespaceStatus{Phase: c.phase}}
		if c.deleting {
			ns.DeletionTimestamp = &now
		}
		errs := statusStrategy{}.ValidateStatusUpdate(ctx, ns, ns)
		got := ""
		if len(errs) > 0 {
			got = errs[0].Error()
		}
		if got != c.want {
			t.Errorf("deleting=%v phase=%s: %q, want %q", c.deleting, c.phase, got, c.want)
		}
	}
}

func TestTableAndTerminating(t *testing.T) {
	now := time.Now()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", CreationTimestamp: metav1.NewTime(now.Add(-3 * time.Hour))},
		Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}}, Status: corev1.NamespaceStatus{Phase: "Active"}}
	row, _ := table{}.Row(ns, now)
	if row[0] != "a" || row[1] != "Active" || row[2] != "3h" {
		t.Errorf("row = %v", row)
	}
	if !MarkTerminating(ns) || ns.Status.Phase != corev1.NamespaceTerminating {
		t.Errorf("MarkTerminating did not keep the namespace")
	}
	if MarkTerminating(&corev1.Namespace{}) {
		t.Errorf("a namespace without finalizers must go at once")
	}
}
