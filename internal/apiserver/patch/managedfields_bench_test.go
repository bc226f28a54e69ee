package patch

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

var podGVK = corev1.SchemeGroupVersion.WithKind("Pod")

// jobPod is a pod as the Job controller creates it, i is its index.
func jobPod(i int) *corev1.Pod {
	name := fmt.Sprintf("pi-%d-x7k2p", i)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, GenerateName: fmt.Sprintf("pi-%d-", i), Namespace: "default",
			Labels: map[string]string{
				"batch.kubernetes.io/controller-uid":       "0b5c3e0c-6f5e-4a53-9d1a-1f0f0d5f2b11",
				"batch.kubernetes.io/job-name":             "pi",
				"batch.kubernetes.io/job-completion-index": fmt.Sprint(i),
				"controller-uid":                           "0b5c3e0c-6f5e-4a53-9d1a-1f0f0d5f2b11",
				"job-name":                                 "pi",
			},
			Annotations: map[string]string{"batch.kubernetes.io/job-completion-index": fmt.Sprint(i)},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "batch/v1", Kind: "Job", Name: "pi", UID: "0b5c3e0c-6f5e-4a53-9d1a-1f0f0d5f2b11",
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
			Finalizers: []string{"batch.kubernetes.io/job-tracking"},
		},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Hostname:      fmt.Sprintf("pi-%d", i),
			Subdomain:     "pi",
			Containers: []corev1.Container{{
				Name: "pi", Image: "perl:5.34.0", Command: []string{"perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"},
				Env: []corev1.EnvVar{{Name: "JOB_COMPLETION_INDEX", ValueFrom: &corev1.EnvVarSource{
					FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']"},
				}}},
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi"),
				}},
				TerminationMessagePath:   "/dev/termination-log",
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				ImagePullPolicy:          corev1.PullIfNotPresent,
			}},
			DNSPolicy:                     corev1.DNSClusterFirst,
			SchedulerName:                 "default-scheduler",
			TerminationGracePeriodSeconds: ptr.To[int64](30),
			SecurityContext:               &corev1.PodSecurityContext{},
			Tolerations: []corev1.Toleration{
				{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
				{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
			},
			PreemptionPolicy:   ptr.To(corev1.PreemptLowerPriority),
			Priority:           ptr.To[int32](0),
			EnableServiceLinks: ptr.To(true),
		},
		Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBurstable},
	}
}

// podLifecycle returns a pod as stored after its create by the Job
// controller and its scheduling, and the agent's status write that
// finishes it. record records one write.
func podLifecycle(tb testing.TB, i int, record func(old, obj runtime.Object, manager, sub string) (runtime.Object, error)) (stored, finished *corev1.Pod) {
	tb.Helper()
	created, err := record(nil, jobPod(i), "kube-controller-manager", "")
	if err != nil {
		tb.Fatal(err)
	}
	pod := created.(*corev1.Pod)
	pod.UID = types.UID(fmt.Sprintf("uid-%d", i))
	pod.ResourceVersion = "10"
	pod.CreationTimestamp = metav1.Unix(1700000000, 0)
	scheduled := pod.DeepCopy()
	scheduled.ResourceVersion = "11"
	scheduled.Spec.NodeName = "node-1"
	scheduled.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Unix(1700000001, 0)}}
	out, err := record(pod, scheduled, "kube-scheduler", "status")
	if err != nil {
		tb.Fatal(err)
	}
	stored = out.(*corev1.Pod)
	finished = stored.DeepCopy()
	finished.ResourceVersion = "12"
	t0 := metav1.Unix(1700000002, 0)
	finished.Status.Phase = corev1.PodSucceeded
	finished.Status.HostIP = "10.0.0.1"
	finished.Status.HostIPs = []corev1.HostIP{{IP: "10.0.0.1"}}
	finished.Status.PodIP = "10.244.0.7"
	finished.Status.PodIPs = []corev1.PodIP{{IP: "10.244.0.7"}}
	finished.Status.StartTime = &t0
	finished.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionFalse, LastTransitionTime: t0},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: t0, Reason: "PodCompleted"},
		{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: t0, Reason: "PodCompleted"},
		{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, LastTransitionTime: t0, Reason: "PodCompleted"},
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Unix(1700000001, 0)},
	}
	finished.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: "pi", Image: "docker.io/library/perl:5.34.0", ImageID: "docker.io/library/perl@sha256:abc", ContainerID: "containerd://0123",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 0, Reason: "Completed", StartedAt: t0, FinishedAt: t0, ContainerID: "containerd://0123",
		}},
		Started: ptr.To(false),
	}}
	return stored, finished
}

func benchRecorder(b *testing.B, name string) func(old, obj runtime.Object, manager, sub string) (runtime.Object, error) {
	switch name {
	case "Reference":
		return func(old, obj runtime.Object, manager, sub string) (runtime.Object, error) {
			return referenceManagedFields(b, old, obj, podGVK, manager, sub)
		}
	case "Chain":
		return func(old, obj runtime.Object, manager, sub string) (runtime.Object, error) {
			return chainManagedFields(old, obj, podGVK, manager, sub)
		}
	default:
		return func(old, obj runtime.Object, manager, sub string) (runtime.Object, error) {
			return UpdateObjectManagedFields(old, obj, podGVK, manager, sub)
		}
	}
}

// BenchmarkUpdateObjectManagedFields measures the agent's status write of
// a finished pod, the Job controller's removal of its finalizer and its
// create of a pod: Reference is
// the plain field manager on whole objects, Chain the field manager over
// pruned objects (the previous implementation, still the fallback), Fast
// what UpdateObjectManagedFields does.
func BenchmarkUpdateObjectManagedFields(b *testing.B) {
	for _, impl := range []string{"Reference", "Chain", "Fast"} {
		record := benchRecorder(b, impl)
		b.Run("Status/"+impl, func(b *testing.B) {
			const pods = 64
			stored, finished := make([]*corev1.Pod, pods), make([]*corev1.Pod, pods)
			for i := range stored {
				stored[i], finished[i] = podLifecycle(b, i, record)
			}
			olds, news := make([]*corev1.Pod, b.N), make([]*corev1.Pod, b.N)
			for i := range olds {
				olds[i], news[i] = stored[i%pods].DeepCopy(), finished[i%pods].DeepCopy()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := record(olds[i], news[i], "batchlet-agent", "status"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Finalizer/"+impl, func(b *testing.B) {
			const pods = 64
			done := make([]*corev1.Pod, pods)
			for i := range done {
				stored, finished := podLifecycle(b, i, record)
				out, err := record(stored, finished, "batchlet-agent", "status")
				if err != nil {
					b.Fatal(err)
				}
				done[i] = out.(*corev1.Pod)
			}
			olds, news := make([]*corev1.Pod, b.N), make([]*corev1.Pod, b.N)
			for i := range olds {
				olds[i], news[i] = done[i%pods].DeepCopy(), done[i%pods].DeepCopy()
				news[i].Finalizers = nil
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := record(olds[i], news[i], "kube-controller-manager", ""); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Create/"+impl, func(b *testing.B) {
			const pods = 64
			news := make([]*corev1.Pod, b.N)
			for i := range news {
				news[i] = jobPod(i % pods)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := record(nil, news[i], "kube-controller-manager", ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
