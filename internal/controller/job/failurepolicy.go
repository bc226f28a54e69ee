package job

import (
	"fmt"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// policyMatch is the outcome of evaluating a pod failure policy on a
// failed pod: the matched action (nil when no rule matched), whether the
// failure counts toward the limits, and the FailJob message.
type policyMatch struct {
	action     *batchv1.PodFailurePolicyAction
	countFails bool
	failJobMsg string
}

// matchFailurePolicy evaluates the rules in order; the first match wins.
func matchFailurePolicy(policy *batchv1.PodFailurePolicy, pod *corev1.Pod) policyMatch {
	if policy == nil {
		return policyMatch{countFails: true}
	}
	for i, rule := range policy.Rules {
		action := rule.Action
		switch {
		case rule.OnExitCodes != nil:
			cs := matchExitCodes(&pod.Status, rule.OnExitCodes)
			if cs == nil {
				continue
			}
			if m, ok := actionMatch(action); ok {
				if action == batchv1.PodFailurePolicyActionFailJob {
					m.failJobMsg = fmt.Sprintf("Container %s for pod %s/%s failed with exit code %v matching %v rule at index %d",
						cs.Name, pod.Namespace, pod.Name, cs.State.Terminated.ExitCode, action, i)
				}
				return m
			}
		case rule.OnPodConditions != nil:
			cond := matchPodConditions(&pod.Status, rule.OnPodConditions)
			if cond == nil {
				continue
			}
			if m, ok := actionMatch(action); ok {
				if action == batchv1.PodFailurePolicyActionFailJob {
					m.failJobMsg = fmt.Sprintf("Pod %s/%s has condition %v matching %v rule at index %d",
						pod.Namespace, pod.Name, cond.Type, action, i)
				}
				return m
			}
		}
	}
	return policyMatch{countFails: true}
}

// actionMatch maps a known action to its outcome; unknown actions make
// the rule be skipped.
func actionMatch(a batchv1.PodFailurePolicyAction) (policyMatch, bool) {
	switch a {
	case batchv1.PodFailurePolicyActionIgnore:
		return policyMatch{action: &a}, true
	case batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionFailIndex, batchv1.PodFailurePolicyActionCount:
		return policyMatch{action: &a, countFails: true}, true
	}
	return policyMatch{}, false
}

func (m policyMatch) is(a batchv1.PodFailurePolicyAction) bool {
	return m.action != nil && *m.action == a
}

func matchExitCodes(st *corev1.PodStatus, req *batchv1.PodFailurePolicyOnExitCodesRequirement) *corev1.ContainerStatus {
	if cs := matchContainerExit(st.ContainerStatuses, req); cs != nil {
		return cs
	}
	return matchContainerExit(st.InitContainerStatuses, req)
}

func matchContainerExit(list []corev1.ContainerStatus, req *batchv1.PodFailurePolicyOnExitCodesRequirement) *corev1.ContainerStatus {
	for i := range list {
		cs := &list[i]
		if req.ContainerName != nil && *req.ContainerName != cs.Name {
			continue
		}
		if cs.State.Terminated == nil || cs.State.Terminated.ExitCode == 0 {
			continue
		}
		in := slices.Contains(req.Values, cs.State.Terminated.ExitCode)
		switch req.Operator {
		case batchv1.PodFailurePolicyOnExitCodesOpIn:
			if in {
				return cs
			}
		case batchv1.PodFailurePolicyOnExitCodesOpNotIn:
			if !in {
				return cs
			}
		}
	}
	return nil
}

func matchPodConditions(st *corev1.PodStatus, patterns []batchv1.PodFailurePolicyOnPodConditionsPattern) *corev1.PodCondition {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		for _, p := range patterns {
			status := p.Status
			if status == "" {
				status = corev1.ConditionTrue
			}
			if c.Type == p.Type && c.Status == status {
				return c
			}
		}
	}
	return nil
}

// failJobMessage returns the message of the first failed pod matching a
// FailJob rule.
func failJobMessage(job *batchv1.Job, pods []*corev1.Pod) (string, bool) {
	if job.Spec.PodFailurePolicy == nil {
		return "", false
	}
	for _, p := range pods {
		if !isPodFailed(p, job) {
			continue
		}
		if m := matchFailurePolicy(job.Spec.PodFailurePolicy, p); m.is(batchv1.PodFailurePolicyActionFailJob) {
			return m.failJobMsg, true
		}
	}
	return "", false
}
