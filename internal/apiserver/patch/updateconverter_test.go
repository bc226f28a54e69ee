package patch

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/randfill"
)

// referenceManagedFields records an update the plain way: the validating
// type converter on the whole objects.
func referenceManagedFields(t testing.TB, old, newObj runtime.Object, gvk schema.GroupVersionKind, manager, subresource string) (runtime.Object, error) {
	t.Helper()
	fm, err := subresourceFieldManager(gvk, subresource)
	if err != nil {
		t.Fatal(err)
	}
	if old == nil {
		if old, err = scheme.Scheme.New(gvk); err != nil {
			t.Fatal(err)
		}
	}
	old.GetObjectKind().SetGroupVersionKind(gvk)
	newObj.GetObjectKind().SetGroupVersionKind(gvk)
	return fm.Update(old, newObj, manager)
}

// updateFiller fills objects from a small alphabet, so list keys collide
// and go missing, and maps and lists are often empty or nil.
func updateFiller(seed int64) *randfill.Filler {
	words := []string{"", "a", "b", "TCP", "c"}
	return randfill.NewWithSeed(seed).NilChance(0.3).NumElements(0, 3).MaxDepth(12).Funcs(
		func(s *string, c randfill.Continue) { *s = words[c.Intn(len(words))] },
		func(q *resource.Quantity, c randfill.Continue) {
			*q = *resource.NewQuantity(int64(c.Intn(4)), resource.DecimalSI)
		},
		func(v *intstr.IntOrString, c randfill.Continue) {
			if c.Intn(2) == 0 {
				*v = intstr.FromInt32(int32(c.Intn(3)))
			} else {
				*v = intstr.FromString(words[c.Intn(len(words))])
			}
		},
		func(tm *metav1.Time, c randfill.Continue) { *tm = metav1.Unix(int64(c.Intn(3))*3600, 0) },
		func(tm *metav1.MicroTime, c randfill.Continue) {
			*tm = metav1.NewMicroTime(time.Unix(int64(c.Intn(3)), 0))
		},
		func(e *runtime.RawExtension, c randfill.Continue) {},
		func(m *[]metav1.ManagedFieldsEntry, c randfill.Continue) {},
		func(tm *metav1.TypeMeta, c randfill.Continue) {},
	)
}

// TestUpdateObjectManagedFieldsMatchesReference checks, on random objects
// and random changes to them, that recording an update without the
// validation walk and without comparing equal top-level fields gives the
// managedFields of the plain field manager.
func TestUpdateObjectManagedFieldsMatchesReference(t *testing.T) {
	kinds := []runtime.Object{&batchv1.Job{}, &batchv1.CronJob{}, &corev1.Pod{}, &corev1.Service{}, &corev1.ConfigMap{}, &corev1.Namespace{}}
	const rounds = 25
	compared, refused := 0, 0
	for _, proto := range kinds {
		gvks, _, err := scheme.Scheme.ObjectKinds(proto)
		if err != nil {
			t.Fatal(err)
		}
		gvk := gvks[0]
		for i := 0; i < rounds; i++ {
			f := updateFiller(int64(i))
			r := rand.New(rand.NewSource(int64(i)))
			created := proto.DeepCopyObject()
			f.Fill(created)
			// The live object as a create by one manager left it.
			live, err := referenceManagedFields(t, nil, created.DeepCopyObject(), gvk, "creator", "")
			if err != nil {
				refused++
				continue
			}
			if r.Intn(4) == 0 {
				// An entry a client wrote at another version.
				otherVersion(t, live, gvk)
			}
			next := live.DeepCopyObject()
			changeSomeFields(f, r, next)
			// A client sometimes sends managedFields back, sometimes not.
			if r.Intn(2) == 0 {
				clearManagedFields(t, next)
			}
			for _, sub := range []string{"", "status"} {
				manager := fmt.Sprintf("writer-%d", r.Intn(2))
				want, wantErr := referenceManagedFields(t, live.DeepCopyObject(), next.DeepCopyObject(), gvk, manager, sub)
				got, gotErr := UpdateObjectManagedFields(live.DeepCopyObject(), next.DeepCopyObject(), gvk, manager, sub)
				if wantErr != nil {
					refused++
					continue
				}
				if gotErr != nil {
					t.Fatalf("%v seed %d %q: reference succeeded, fast path failed: %v", gvk.Kind, i, sub, gotErr)
				}
				compared++
				if w, g := entries(t, want), entries(t, got); !reflect.DeepEqual(w, g) {
					t.Fatalf("%v seed %d %q: managedFields differ\nwant %s\ngot  %s", gvk.Kind, i, sub, w, g)
				}
				// Only managedFields may differ from the requested object.
				clearManagedFields(t, got)
				clearManagedFields(t, want)
				if !reflect.DeepEqual(want, got) {
					t.Fatalf("%v seed %d %q: the object itself changed", gvk.Kind, i, sub)
				}
			}
		}
	}
	t.Logf("%d updates compared, %d refused by the reference", compared, refused)
	if compared < len(kinds)*rounds {
		t.Errorf("only %d of %d updates compared", compared, 2*len(kinds)*rounds)
	}
}

// changeSomeFields refills a random selection of obj's top-level fields
// (metadata labels and annotations among them), leaving the others equal.
func changeSomeFields(f *randfill.Filler, r *rand.Rand, obj runtime.Object) {
	v := reflect.ValueOf(obj).Elem()
	for i := 0; i < v.NumField(); i++ {
		field := v.Type().Field(i)
		switch {
		case field.Name == "ObjectMeta":
			om := v.Field(i).Addr().Interface().(*metav1.ObjectMeta)
			if r.Intn(3) == 0 {
				f.Fill(&om.Labels)
			}
			if r.Intn(3) == 0 {
				f.Fill(&om.Annotations)
			}
			if r.Intn(4) == 0 {
				f.Fill(&om.Finalizers)
			}
			if r.Intn(4) == 0 {
				f.Fill(&om.OwnerReferences)
			}
		case field.Anonymous:
		case field.Type.Kind() == reflect.Struct && r.Intn(3) == 0:
			// One field of spec or status, the rest equal.
			sub := v.Field(i)
			if n := sub.NumField(); n > 0 {
				if fv := sub.Field(r.Intn(n)); fv.CanAddr() && fv.CanSet() {
					f.Fill(fv.Addr().Interface())
				}
			}
		case r.Intn(2) == 0:
			f.Fill(v.Field(i).Addr().Interface())
		}
	}
}

func otherVersion(t *testing.T, obj runtime.Object, gvk schema.GroupVersionKind) {
	t.Helper()
	acc, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	entries := acc.GetManagedFields()
	if len(entries) > 0 {
		entries[0].APIVersion = schema.GroupVersion{Group: gvk.Group, Version: "v1beta1"}.String()
	}
}

func clearManagedFields(t *testing.T, obj runtime.Object) {
	t.Helper()
	acc, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	acc.SetManagedFields(nil)
}

// entries renders managedFields without their times, which are taken from
// the wall clock on each call.
func entries(t *testing.T, obj runtime.Object) string {
	t.Helper()
	acc, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	for _, e := range acc.GetManagedFields() {
		raw := ""
		if e.FieldsV1 != nil {
			raw = string(e.FieldsV1.Raw)
		}
		out += fmt.Sprintf("[%s %s %s %s %s] ", e.Manager, e.Operation, e.APIVersion, e.Subresource, raw)
	}
	return out
}
