package job

import (
	"context"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// update runs an update through the generic layer's order.
func update(j, old *batchv1.Job) []string {
	s := strategy{}
	s.Default(j)
	s.PrepareForUpdate(context.Background(), j, old)
	errs := s.ValidateUpdate(context.Background(), j, old)
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

func TestValidateUpdate(t *testing.T) {
	nodeAffinity := &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}}},
	}}
	tests := []struct {
		name    string
		fixture string
		old     func(j *batchv1.Job)
		mutate  func(j *batchv1.Job)
		want    []string
	}{
		{"mutable fields", "pi.yaml", nil, func(j *batchv1.Job) {
			j.Spec.Parallelism = ptr.To[int32](4)
			j.Spec.Suspend = ptr.To(true)
			j.Spec.ActiveDeadlineSeconds = ptr.To[int64](60)
			j.Spec.BackoffLimit = ptr.To[int32](1)
			j.Spec.TTLSecondsAfterFinished = ptr.To[int32](0)
			j.Labels["tier"] = "demo"
		}, nil},
		{"completions", "pi.yaml", nil, func(j *batchv1.Job) { j.Spec.Completions = ptr.To[int32](2) },
			[]string{"spec.completions: Invalid value: 2: field is immutable"}},
		{"selector", "pi.yaml", nil, func(j *batchv1.Job) { j.Spec.Selector.MatchLabels["x"] = "y" },
			[]string{"spec.selector: Invalid value:", "field is immutable"}},
		{"template", "pi.yaml", nil, func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl:6" },
			[]string{"spec.template: Invalid value:", "field is immutable"}},
		{"completionMode", "pi.yaml", nil, func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		}, []string{"spec.completionMode: Invalid value: \"Indexed\": field is immutable"}},
		{"podFailurePolicy", "job-pod-failure-policy-failjob.yaml", nil, func(j *batchv1.Job) {
			j.Spec.PodFailurePolicy.Rules[0].OnExitCodes.Values = []int32{43}
		}, []string{"spec.podFailurePolicy: Invalid value:", "field is immutable"}},
		{"managedBy", "pi.yaml", nil, func(j *batchv1.Job) { j.Spec.ManagedBy = ptr.To("acme.io/foo") },
			[]string{"spec.managedBy: Invalid value: \"acme.io/foo\": field is immutable"}},
		{"backoffLimitPerIndex", "indexed-job.yaml", nil, func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = ptr.To[int32](1) },
			[]string{"spec.backoffLimitPerIndex: Invalid value: 1: field is immutable"}},
		{"successPolicy", "indexed-job.yaml", nil, func(j *batchv1.Job) {
			j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr.To[int32](1)}}}
		}, []string{"spec.successPolicy: Invalid value:", "field is immutable"}},
		{"elastic indexed in tandem", "indexed-job.yaml", nil, func(j *batchv1.Job) {
			j.Spec.Completions = ptr.To[int32](2)
			j.Spec.Parallelism = ptr.To[int32](2)
		}, nil},
		{"elastic indexed alone", "indexed-job.yaml", nil, func(j *batchv1.Job) { j.Spec.Completions = ptr.To[int32](2) },
			[]string{"spec.completions: Invalid value: 2: can only be modified in tandem with spec.parallelism"}},
		{"scheduling directives of a suspended, never started Job", "pi.yaml",
			func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) },
			func(j *batchv1.Job) {
				j.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"}
				j.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}
				j.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: nodeAffinity}
				j.Spec.Template.Labels["extra"] = "1"
				j.Spec.Template.Annotations = map[string]string{"a": "b"}
				j.Spec.Template.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/gate"}}
			}, nil},
		{"clearing node-only affinity of a suspended Job", "pi.yaml",
			func(j *batchv1.Job) {
				j.Spec.Suspend = ptr.To(true)
				j.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: nodeAffinity}
			},
			func(j *batchv1.Job) { j.Spec.Template.Spec.Affinity = nil }, nil},
		{"other template fields of a suspended Job", "pi.yaml",
			func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) },
			func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl:6" },
			[]string{"spec.template: Invalid value:", "field is immutable"}},
		{"scheduling directives of a started suspended Job", "pi.yaml",
			func(j *batchv1.Job) {
				j.Spec.Suspend = ptr.To(true)
				j.Status.StartTime = &metav1.Time{}
			},
			func(j *batchv1.Job) { j.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"} },
			[]string{"spec.template: Invalid value:", "field is immutable"}},
		{"removing generated template label", "pi.yaml", nil, func(j *batchv1.Job) {
			delete(j.Spec.Template.Labels, batchv1.JobNameLabel)
		}, []string{"spec.template.metadata.labels[batch.kubernetes.io/job-name]: Required value: must be 'pi'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := created(t, tt.fixture)
			if tt.old != nil {
				tt.old(old)
			}
			j := old.DeepCopy()
			tt.mutate(j)
			got := update(j, old)
			joined := ""
			for _, g := range got {
				joined += g + "\n"
			}
			if len(tt.want) == 0 && len(got) > 0 {
				t.Fatalf("unexpected errors:\n%s", joined)
			}
			if len(tt.want) > 0 && len(got) == 0 {
				t.Fatalf("no errors, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !contains(joined, w) {
					t.Errorf("errors:\n%s do not contain %q", joined, w)
				}
			}
		})
	}
}

func TestUpdateOldJobWithoutPrefixedLabels(t *testing.T) {
	old := created(t, "pi.yaml")
	delete(old.Spec.Template.Labels, batchv1.JobNameLabel)
	delete(old.Spec.Template.Labels, batchv1.ControllerUidLabel)
	old.Spec.Selector.MatchLabels = map[string]string{LegacyControllerUIDLabel: string(testUID)}
	j := old.DeepCopy()
	j.Spec.Parallelism = ptr.To[int32](2)
	if got := update(j, old); len(got) > 0 {
		t.Errorf("a Job created before the prefixed labels must stay updatable: %v", got)
	}
}
