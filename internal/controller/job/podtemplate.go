package job

import (
	"fmt"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxGenerateNamePrefix leaves room for the 5 random characters the
// apiserver appends, within a 63-character name.
const maxGenerateNamePrefix = 58

var jobKind = batchv1.SchemeGroupVersion.WithKind("Job")

// newPod builds a pod for the Job from its template: controller
// ownerReference, tracking finalizer, generateName and, for an index, the
// index annotation and label, JOB_COMPLETION_INDEX and the hostname.
// prev is the last failed pod of that index, whose failure counts carry
// over under backoffLimitPerIndex.
func newPod(job *batchv1.Job, index int, prev *corev1.Pod) *corev1.Pod {
	tpl := job.Spec.Template.DeepCopy()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       job.Namespace,
			GenerateName:    job.Name + "-",
			Labels:          tpl.Labels,
			Annotations:     tpl.Annotations,
			Finalizers:      appendFinalizer(tpl.Finalizers),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, jobKind)},
		},
		Spec: tpl.Spec,
	}
	if index == noIndex {
		return pod
	}
	ix := strconv.Itoa(index)
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Annotations[batchv1.JobCompletionIndexAnnotation] = ix
	pod.Labels[batchv1.JobCompletionIndexAnnotation] = ix
	pod.GenerateName = generateNameWithIndex(job.Name, index)
	pod.Spec.Hostname = fmt.Sprintf("%s-%d", job.Name, index)
	addIndexEnv(pod.Spec.InitContainers)
	addIndexEnv(pod.Spec.Containers)
	if perIndexLimit(job) {
		failures, ignored := carriedFailureCounts(job, prev)
		pod.Annotations[batchv1.JobIndexFailureCountAnnotation] = strconv.Itoa(int(failures))
		if ignored > 0 {
			pod.Annotations[batchv1.JobIndexIgnoredFailureCountAnnotation] = strconv.Itoa(int(ignored))
		}
	}
	return pod
}

// carriedFailureCounts are the counts of the replaced pod plus its own
// failure, counted or ignored by the pod failure policy.
func carriedFailureCounts(job *batchv1.Job, prev *corev1.Pod) (failures, ignored int32) {
	if prev == nil {
		return 0, 0
	}
	failures, ignored = indexFailureCount(prev), indexIgnoredFailureCount(prev)
	m := matchFailurePolicy(job.Spec.PodFailurePolicy, prev)
	switch {
	case m.is(batchv1.PodFailurePolicyActionIgnore):
		ignored++
	case m.countFails:
		failures++
	}
	return failures, ignored
}

func generateNameWithIndex(name string, index int) string {
	suffix := fmt.Sprintf("-%d-", index)
	if len(name)+len(suffix) > maxGenerateNamePrefix {
		name = name[:max(0, maxGenerateNamePrefix-len(suffix))]
	}
	return name + suffix
}

const indexEnvName = "JOB_COMPLETION_INDEX"

func addIndexEnv(containers []corev1.Container) {
	for i := range containers {
		c := &containers[i]
		present := false
		for _, e := range c.Env {
			if e.Name == indexEnvName {
				present = true
				break
			}
		}
		if present {
			continue
		}
		c.Env = append(c.Env, corev1.EnvVar{
			Name: indexEnvName,
			ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
				FieldPath: fmt.Sprintf("metadata.labels['%s']", batchv1.JobCompletionIndexAnnotation),
			}},
		})
	}
}

func appendFinalizer(fs []string) []string {
	for _, f := range fs {
		if f == batchv1.JobTrackingFinalizer {
			return fs
		}
	}
	return append(fs, batchv1.JobTrackingFinalizer)
}
