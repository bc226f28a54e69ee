package namespace

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// okReasons and okMessages describe each deletion condition when False.
var (
	okReasons = map[corev1.NamespaceConditionType]string{
		corev1.NamespaceDeletionDiscoveryFailure: "ResourcesDiscovered",
		corev1.NamespaceDeletionGVParsingFailure: "ParsedGroupVersions",
		corev1.NamespaceDeletionContentFailure:   "ContentDeleted",
		corev1.NamespaceContentRemaining:         "ContentRemoved",
		corev1.NamespaceFinalizersRemaining:      "ContentHasNoFinalizers",
	}
	okMessages = map[corev1.NamespaceConditionType]string{
		corev1.NamespaceDeletionDiscoveryFailure: "All resources successfully discovered",
		corev1.NamespaceDeletionGVParsingFailure: "All legacy kube types successfully parsed",
		corev1.NamespaceDeletionContentFailure:   "All content successfully deleted, may be waiting on finalization",
		corev1.NamespaceContentRemaining:         "All content successfully removed",
		corev1.NamespaceFinalizersRemaining:      "All content-preserving finalizers finished",
	}
	conditionOrder = []corev1.NamespaceConditionType{
		corev1.NamespaceDeletionDiscoveryFailure,
		corev1.NamespaceDeletionGVParsingFailure,
		corev1.NamespaceDeletionContentFailure,
		corev1.NamespaceContentRemaining,
		corev1.NamespaceFinalizersRemaining,
	}
)

// deletionReport is what one pass over the content found.
type deletionReport struct {
	discoveryErr error
	// deleteFailures are "resource: error" texts of failed deletions.
	deleteFailures []string
	// remaining counts objects left per resource.
	remaining map[string]int
	// finalizers counts objects left per finalizer.
	finalizers map[string]int
}

func (r deletionReport) done() bool {
	return r.discoveryErr == nil && len(r.deleteFailures) == 0 && len(r.remaining) == 0
}

// conditions renders the report as the namespace's deletion conditions.
func (r deletionReport) conditions(now metav1.Time) []corev1.NamespaceCondition {
	failed := map[corev1.NamespaceConditionType][2]string{}
	if r.discoveryErr != nil {
		failed[corev1.NamespaceDeletionDiscoveryFailure] = [2]string{"DiscoveryFailed", fmt.Sprintf("Discovery failed for some groups, %v", r.discoveryErr)}
	}
	if len(r.deleteFailures) > 0 {
		failed[corev1.NamespaceDeletionContentFailure] = [2]string{"ContentDeletionFailed", fmt.Sprintf("Failed to delete all resource types, %d remaining: %s", len(r.deleteFailures), strings.Join(r.deleteFailures, ", "))}
	}
	if len(r.remaining) > 0 {
		failed[corev1.NamespaceContentRemaining] = [2]string{"SomeResourcesRemain", "Some resources are remaining: " + counts(r.remaining, "%s has %d resource instances")}
	}
	if len(r.finalizers) > 0 {
		failed[corev1.NamespaceFinalizersRemaining] = [2]string{"SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: " + counts(r.finalizers, "%s in %d resource instances")}
	}
	out := make([]corev1.NamespaceCondition, 0, len(conditionOrder))
	for _, t := range conditionOrder {
		c := corev1.NamespaceCondition{Type: t, Status: corev1.ConditionFalse, Reason: okReasons[t], Message: okMessages[t], LastTransitionTime: now}
		if f, ok := failed[t]; ok {
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, f[0], f[1]
		}
		out = append(out, c)
	}
	return out
}

func counts(m map[string]int, format string) string {
	parts := make([]string, 0, len(m))
	for k, n := range m {
		parts = append(parts, fmt.Sprintf(format, k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// mergeConditions keeps the lastTransitionTime of conditions whose status
// did not change; it reports whether anything changed.
func mergeConditions(old, cur []corev1.NamespaceCondition) ([]corev1.NamespaceCondition, bool) {
	prev := map[corev1.NamespaceConditionType]corev1.NamespaceCondition{}
	for _, c := range old {
		prev[c.Type] = c
	}
	changed := len(old) != len(cur)
	for i, c := range cur {
		p, ok := prev[c.Type]
		if ok && p.Status == c.Status {
			cur[i].LastTransitionTime = p.LastTransitionTime
		}
		if !ok || p.Status != c.Status || p.Reason != c.Reason || p.Message != c.Message {
			changed = true
		}
	}
	return cur, changed
}
