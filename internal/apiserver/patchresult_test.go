package apiserver

import (
	"context"
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/batchlet/batchlet/internal/apiserver/patch"
)

// A patch whose result does not decode into the kind answers the
// patch package's 422 whatever the field validation, as kube-apiserver
// does, although the server decodes the result only once.
func TestPatchResultThatDoesNotDecode(t *testing.T) {
	env := newTestEnv(t)
	cur, err := env.client.CoreV1().ConfigMaps("default").Create(context.Background(), cm("p", map[string]string{"a": "1"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := env.client.CoreV1().ConfigMaps("default").Get(context.Background(), "p", metav1.GetOptions{})
	if err != nil || got.ResourceVersion != cur.ResourceVersion {
		t.Fatalf("get: %v %v", got, err)
	}
	got.APIVersion, got.Kind = "v1", "ConfigMap"
	currentJSON, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pt   types.PatchType
		body string
	}{
		{types.MergePatchType, `{"data":{"a":1}}`},
		{types.StrategicMergePatchType, `{"data":{"a":1}}`},
		{types.JSONPatchType, `[{"op":"replace","path":"/data","value":[1]}]`},
	} {
		_, wantErr := patch.Apply(c.pt, currentJSON, []byte(c.body), &corev1.ConfigMap{})
		if wantErr == nil {
			t.Fatalf("%s: the patch package accepts %s", c.pt, c.body)
		}
		want := toStatus(wantErr)
		for _, fv := range []string{"Strict", "Warn", "Ignore"} {
			resp, data := env.do(t, "PATCH", "/api/v1/namespaces/default/configmaps/p?fieldValidation="+fv, string(c.pt), []byte(c.body))
			var st metav1.Status
			if err := json.Unmarshal(data, &st); err != nil {
				t.Fatalf("%s %s: %d %s", c.pt, fv, resp.StatusCode, data)
			}
			if resp.StatusCode != int(want.Code) || st.Reason != want.Reason || st.Message != want.Message {
				t.Errorf("%s %s: %d %s %q, want %d %s %q", c.pt, fv, resp.StatusCode, st.Reason, st.Message, want.Code, want.Reason, want.Message)
			}
		}
	}
}
