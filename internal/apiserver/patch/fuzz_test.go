package patch

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
)

var fuzzSeeds = []string{
	`{"metadata":{"labels":{"a":null}}}`,
	`[{"op":"add","path":"/spec/x","value":1}]`,
	`[{"op":"copy","from":"/spec","path":"/spec/template/spec/x"}]`,
	`[{"op":"move","from":"/spec","path":"/spec/template"}]`,
	`{"spec":{"template":{"spec":{"containers":[{"name":"pi","$patch":"delete"},{"$patch":"replace"}]}}}}`,
	`{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"x"},{}]}}}}`,
	`{"metadata":{"$deleteFromPrimitiveList/finalizers":[1,{"a":[]}]}}`,
	`{"spec":{"template":{"spec":{"volumes":[{"$retainKeys":[null],"name":3}]}}}}`,
	`{"spec":{"template":{"spec":{"containers":[[["x"]]]}}}}`,
	`apiVersion: batch/v1
kind: Job
metadata: {name: x}
spec: {template: {spec: {containers: [{name: a}, {name: a}]}}}`,
	`null`, `[]`, `""`, `{"$patch":"delete"}`, "\x00", `[{"op":"remove","path":"/"}]`,
}

// FuzzPatch checks that no patch body, of any type, makes the package panic
// or fail with anything but a status error.
func FuzzPatch(f *testing.F) {
	for _, s := range fuzzSeeds {
		for kind := uint8(0); kind < 4; kind++ {
			f.Add(kind, []byte(s))
		}
	}
	current := mustJSON(f, testJob())
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		var err error
		switch kind % 4 {
		case 0:
			_, err = Apply(types.JSONPatchType, current, body, &batchv1.Job{})
		case 1:
			_, err = Apply(types.MergePatchType, current, body, &batchv1.Job{})
		case 2:
			_, err = Apply(types.StrategicMergePatchType, current, body, &batchv1.Job{})
		case 3:
			_, err = ServerSideApply(current, body, &batchv1.Job{}, jobGVK, "fuzz", false)
		}
		if err != nil {
			if _, ok := err.(apierrors.APIStatus); !ok {
				t.Fatalf("error without status: %T %v", err, err)
			}
		}
	})
}
