package job

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// timeEqual compares optional timestamps as upstream's pointer equality
// does: both nil, or both set to the same instant.
func timeEqual(a, b *metav1.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
}
