package job

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func indexed(j *batchv1.Job, completions, parallelism int32) {
	j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	j.Spec.Completions = ptr.To(completions)
	j.Spec.Parallelism = ptr.To(parallelism)
}

func exitRule(action batchv1.PodFailurePolicyAction, op batchv1.PodFailurePolicyOnExitCodesOperator, values ...int32) batchv1.PodFailurePolicyRule {
	return batchv1.PodFailurePolicyRule{Action: action, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: values}}
}

func withPolicy(j *batchv1.Job, rules ...batchv1.PodFailurePolicyRule) {
	j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: rules}
}

func TestValidateJob(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(j *batchv1.Job)
		want   []string
	}{
		{"valid", func(j *batchv1.Job) {}, nil},
		{"negative counts", func(j *batchv1.Job) {
			j.Spec.Parallelism = ptr.To[int32](-1)
			j.Spec.Completions = ptr.To[int32](-2)
			j.Spec.ActiveDeadlineSeconds = ptr.To[int64](-3)
			j.Spec.BackoffLimit = ptr.To[int32](-4)
			j.Spec.TTLSecondsAfterFinished = ptr.To[int32](-5)
		}, []string{
			"spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
			"spec.completions: Invalid value: -2: must be greater than or equal to 0",
			"spec.activeDeadlineSeconds: Invalid value: -3: must be greater than or equal to 0",
			"spec.backoffLimit: Invalid value: -4: must be greater than or equal to 0",
			"spec.ttlSecondsAfterFinished: Invalid value: -5: must be greater than or equal to 0",
		}},
		{"restartPolicy Always", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways },
			[]string{`spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`}},
		{"restartPolicy omitted", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "" },
			[]string{`spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`}},
		{"restartPolicy OnFailure", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }, nil},
		{"restartPolicy OnFailure with failure policy", func(j *batchv1.Job) {
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			withPolicy(j, exitRule(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpIn, 42))
		}, []string{`spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified`}},
		{"completionMode unknown", func(j *batchv1.Job) { j.Spec.CompletionMode = ptr.To(batchv1.CompletionMode("Sometimes")) },
			[]string{`spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"`}},
		{"indexed without completions", func(j *batchv1.Job) {
			indexed(j, 1, 1)
			j.Spec.Completions = nil
		}, []string{"spec.completions: Required value: when completion mode is Indexed"}},
		{"indexed parallelism limit", func(j *batchv1.Job) { indexed(j, 5, 100001) },
			[]string{"spec.parallelism: Invalid value: 100001: must be less than or equal to 100000 when completion mode is Indexed"}},
		{"indexed hostname too long", func(j *batchv1.Job) {
			indexed(j, 10, 1)
			j.Name = strings.Repeat("a", 62)
		}, []string{"metadata.name: Invalid value: \"" + strings.Repeat("a", 62) + "\": will not able to create pod with invalid DNS label: " + strings.Repeat("a", 62) + "-9"}},
		{"per-index backoff needs Indexed", func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = ptr.To[int32](1) },
			[]string{"spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode"}},
		{"maxFailedIndexes needs per-index backoff", func(j *batchv1.Job) {
			indexed(j, 5, 1)
			j.Spec.MaxFailedIndexes = ptr.To[int32](1)
		}, []string{"spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified"}},
		{"maxFailedIndexes above completions", func(j *batchv1.Job) {
			indexed(j, 5, 1)
			j.Spec.BackoffLimitPerIndex = ptr.To[int32](1)
			j.Spec.MaxFailedIndexes = ptr.To[int32](6)
		}, []string{"spec.maxFailedIndexes: Invalid value: 6: must be less than or equal to completions"}},
		{"maxFailedIndexes NonIndexed", func(j *batchv1.Job) {
			j.Spec.BackoffLimitPerIndex = ptr.To[int32](1)
			j.Spec.MaxFailedIndexes = ptr.To[int32](1)
		}, []string{"spec.maxFailedIndexes: Invalid value: 1: requires indexed completion mode"}},
		{"high completions need maxFailedIndexes", func(j *batchv1.Job) {
			indexed(j, 200000, 20000)
			j.Name = "big"
			j.Spec.BackoffLimitPerIndex = ptr.To[int32](1)
		}, []string{
			"spec.maxFailedIndexes: Required value: must be specified when completions is above 100000",
			"spec.parallelism: Invalid value: 20000: must be less than or equal to 10000 when completions are above 100000 and used with backoff limit per index",
		}},
		{"managedBy", func(j *batchv1.Job) { j.Spec.ManagedBy = ptr.To("not-a-domain") },
			[]string{"spec.managedBy: Invalid value: \"not-a-domain\": must be a domain-prefixed path (such as \"acme.io/foo\")"}},
		{"managedBy too long", func(j *batchv1.Job) { j.Spec.ManagedBy = ptr.To("acme.io/" + strings.Repeat("x", 60)) },
			[]string{"spec.managedBy: Too long: may not be more than 63 bytes"}},
		{"managedBy valid", func(j *batchv1.Job) { j.Spec.ManagedBy = ptr.To("kueue.x-k8s.io/multikueue") }, nil},
		{"replacement policy with failure policy", func(j *batchv1.Job) {
			withPolicy(j, exitRule(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpIn, 1))
			j.Spec.PodReplacementPolicy = ptr.To(batchv1.TerminatingOrFailed)
		}, []string{`spec.podReplacementPolicy: Unsupported value: "TerminatingOrFailed": supported values: "Failed"`}},
		{"replacement policy unknown", func(j *batchv1.Job) { j.Spec.PodReplacementPolicy = ptr.To(batchv1.PodReplacementPolicy("Eager")) },
			[]string{`spec.podReplacementPolicy: Unsupported value: "Eager": supported values: "Failed", "TerminatingOrFailed"`}},
		{"failure policy: action", func(j *batchv1.Job) {
			withPolicy(j,
				exitRule("", batchv1.PodFailurePolicyOnExitCodesOpIn, 1),
				exitRule("Retry", batchv1.PodFailurePolicyOnExitCodesOpIn, 1),
				exitRule(batchv1.PodFailurePolicyActionFailIndex, batchv1.PodFailurePolicyOnExitCodesOpIn, 1))
		}, []string{
			`spec.podFailurePolicy.rules[0].action: Required value: valid values: ["Count" "FailIndex" "FailJob" "Ignore"]`,
			`spec.podFailurePolicy.rules[1].action: Unsupported value: "Retry": supported values: "Count", "FailIndex", "FailJob", "Ignore"`,
			`spec.podFailurePolicy.rules[2].action: Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set`,
		}},
		{"failure policy: exit codes", func(j *batchv1.Job) {
			r := exitRule(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpIn, 0, 5, 5, 3)
			r.OnExitCodes.ContainerName = ptr.To("nope")
			withPolicy(j, r,
				exitRule(batchv1.PodFailurePolicyActionCount, "", 1),
				exitRule(batchv1.PodFailurePolicyActionCount, "Has", 1),
				exitRule(batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyOnExitCodesOpNotIn))
		}, []string{
			`spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: "nope": must be one of the container or initContainer names in the pod template`,
			"spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator",
			"spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Duplicate value: 5",
			"spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: [0,5,5,3]: must be ordered",
			`spec.podFailurePolicy.rules[1].onExitCodes.operator: Required value: valid values: ["In" "NotIn"]`,
			`spec.podFailurePolicy.rules[2].onExitCodes.operator: Unsupported value: "Has": supported values: "In", "NotIn"`,
			"spec.podFailurePolicy.rules[3].onExitCodes.values: Invalid value: null: at least one value is required",
		}},
		{"failure policy: requirements", func(j *batchv1.Job) {
			both := exitRule(batchv1.PodFailurePolicyActionIgnore, batchv1.PodFailurePolicyOnExitCodesOpIn, 1)
			both.OnPodConditions = []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}
			withPolicy(j, both, batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionIgnore})
		}, []string{
			"spec.podFailurePolicy.rules[0]: Invalid value: specifying both OnExitCodes and OnPodConditions is not supported",
			"spec.podFailurePolicy.rules[1]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required",
		}},
		{"failure policy: pod conditions", func(j *batchv1.Job) {
			withPolicy(j, batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionIgnore,
				OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{
					{Type: "bad type", Status: corev1.ConditionTrue},
					{Type: corev1.DisruptionTarget, Status: "Maybe"},
				}})
		}, []string{
			`spec.podFailurePolicy.rules[0].onPodConditions[0].type: Invalid value: "bad type": name part must consist of alphanumeric characters`,
			`spec.podFailurePolicy.rules[0].onPodConditions[1].status: Unsupported value: "Maybe": supported values: "False", "True", "Unknown"`,
		}},
		{"failure policy: too many rules", func(j *batchv1.Job) {
			rules := make([]batchv1.PodFailurePolicyRule, 21)
			for i := range rules {
				rules[i] = exitRule(batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyOnExitCodesOpIn, 1)
			}
			withPolicy(j, rules...)
		}, []string{"spec.podFailurePolicy.rules: Too many: 21: must have at most 20 items"}},
		{"FailIndex with per-index backoff", func(j *batchv1.Job) {
			indexed(j, 4, 2)
			j.Spec.BackoffLimitPerIndex = ptr.To[int32](1)
			withPolicy(j, exitRule(batchv1.PodFailurePolicyActionFailIndex, batchv1.PodFailurePolicyOnExitCodesOpIn, 42))
		}, nil},
		{"success policy needs Indexed", func(j *batchv1.Job) {
			j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr.To[int32](1)}}}
		}, []string{"spec.successPolicy: Invalid value:", "requires indexed completion mode"}},
		{"success policy rules", func(j *batchv1.Job) {
			indexed(j, 5, 5)
			j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{
				{},
				{SucceededIndexes: ptr.To("0-2,2")},
				{SucceededIndexes: ptr.To("7")},
				{SucceededIndexes: ptr.To("0,1"), SucceededCount: ptr.To[int32](3)},
				{SucceededCount: ptr.To[int32](6)},
				{SucceededIndexes: ptr.To("a")},
				{SucceededIndexes: ptr.To("1-2-3")},
				{SucceededIndexes: ptr.To("0-1,3-4"), SucceededCount: ptr.To[int32](4)},
			}}
		}, []string{
			"spec.successPolicy.rules[0]: Required value: at least one of succeededCount or succeededIndexes must be specified",
			`spec.successPolicy.rules[1].succeededIndexes: Invalid value: "0-2,2": error parsing succeededIndexes: non-increasing order, previous: 2, current: 2`,
			`spec.successPolicy.rules[2].succeededIndexes: Invalid value: "7": error parsing succeededIndexes: too large index: "7"`,
			"spec.successPolicy.rules[3].succeededCount: Invalid value: 3: must be less than or equal to 2 (the number of indexes in the specified succeededIndexes field)",
			"spec.successPolicy.rules[4].succeededCount: Invalid value: 6: must be less than or equal to 5 (the number of specified completions)",
			`error parsing succeededIndexes: cannot convert string to integer for index: "a"`,
			`the fragment "1-2-3" violates the requirement that an index interval can have at most two parts separated by '-'`,
		}},
		{"success policy without rules", func(j *batchv1.Job) {
			indexed(j, 5, 5)
			j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{}
		}, []string{"spec.successPolicy.rules: Required value: at least one rules must be specified when the successPolicy is specified"}},
		{"template validated", func(j *batchv1.Job) { j.Spec.Template.Spec.Containers = nil },
			[]string{"spec.template.spec.containers: Required value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := loadJob(t, "pi.yaml")
			tt.mutate(j)
			errs := admit(j)
			wantErrors(t, errs, tt.want)
			// The extra success-policy rule with count 4 of 4 indexes is valid.
			if tt.name == "success policy rules" && strings.Contains(errorText(errs), "rules[7]") {
				t.Errorf("rule 7 is valid: %s", errorText(errs))
			}
		})
	}
}
