package patch

import (
	"encoding/json"
	"reflect"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ApplyUnchecked followed by its check gives exactly what Apply gives:
// the same patched JSON, or the same error for a patch that fails or
// whose result does not decode into the type.
func TestApplyUncheckedMatchesApply(t *testing.T) {
	current, err := json.Marshal(testJob())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		pt   types.PatchType
		body string
	}{
		{"strategic finalizer removal", types.StrategicMergePatchType, `{"metadata":{"$deleteFromPrimitiveList/finalizers":["b"]}}`},
		{"strategic bad type", types.StrategicMergePatchType, `{"spec":{"parallelism":"many"}}`},
		{"strategic bad directive", types.StrategicMergePatchType, `{"metadata":{"$deleteFromPrimitiveList/finalizers":"b"}}`},
		{"strategic malformed", types.StrategicMergePatchType, `{`},
		{"merge labels", types.MergePatchType, `{"metadata":{"labels":{"tier":null,"x":"y"}}}`},
		{"merge bad type", types.MergePatchType, `{"spec":{"completions":{"a":1}}}`},
		{"json remove finalizer", types.JSONPatchType, `[{"op":"remove","path":"/metadata/finalizers/1"}]`},
		{"json bad type", types.JSONPatchType, `[{"op":"replace","path":"/spec/template","value":7}]`},
		{"json failing test", types.JSONPatchType, `[{"op":"test","path":"/metadata/name","value":"other"}]`},
		{"unsupported", types.ApplyPatchType, `{}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, wantErr := Apply(c.pt, current, []byte(c.body), &batchv1.Job{})
			got, check, err := ApplyUnchecked(c.pt, current, []byte(c.body), &batchv1.Job{})
			if err == nil {
				if err = check(); err != nil {
					got = nil
				}
			}
			if string(got) != string(want) {
				t.Errorf("patched:\n%s\nApply gives\n%s", got, want)
			}
			if !reflect.DeepEqual(err, wantErr) {
				t.Errorf("error %v, Apply gives %v", err, wantErr)
			}
			if c.name == "strategic bad type" && wantErr == nil {
				t.Error("a result that does not decode was accepted")
			}
		})
	}
}
