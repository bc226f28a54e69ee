package etcd3

import (
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
)

// Run with: go test -run '^$' -bench WatchConvert ./internal/storage/etcd3/

// benchWatchPod is a finished pod of an Indexed Job as the server stores
// it, managed fields included: what most watch events carry.
func benchWatchPod() *corev1.Pod {
	yes, no := true, false
	at := metav1.NewTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))
	fields := func(s string) *metav1.FieldsV1 { return &metav1.FieldsV1{Raw: []byte(s)} }
	cond := func(t corev1.PodConditionType, s corev1.ConditionStatus, reason string) corev1.PodCondition {
		return corev1.PodCondition{Type: t, Status: s, Reason: reason, LastTransitionTime: at}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "bench-417-x7k2p", Namespace: "default", GenerateName: "bench-417-",
			UID: "5c3e1b7a-2f0d-4c49-9a57-0c8d2e61f3aa", CreationTimestamp: at,
			Labels: map[string]string{
				"batch.kubernetes.io/controller-uid":       "0b8d5f8e-7a43-4b0c-9f51-6a0a3f3e2c11",
				"batch.kubernetes.io/job-completion-index": "417",
				"batch.kubernetes.io/job-name":             "bench",
				"controller-uid":                           "0b8d5f8e-7a43-4b0c-9f51-6a0a3f3e2c11",
				"job-name":                                 "bench",
			},
			Annotations: map[string]string{"batch.kubernetes.io/job-completion-index": "417"},
			Finalizers:  []string{"batch.kubernetes.io/job-tracking"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "bench",
				UID: "0b8d5f8e-7a43-4b0c-9f51-6a0a3f3e2c11", Controller: &yes, BlockOwnerDeletion: &yes}},
			ManagedFields: []metav1.ManagedFieldsEntry{
				{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &at, FieldsType: "FieldsV1",
					FieldsV1: fields(`{"f:metadata":{"f:annotations":{".":{},"f:batch.kubernetes.io/job-completion-index":{}},"f:finalizers":{".":{},"v:\"batch.kubernetes.io/job-tracking\"":{}},"f:generateName":{},"f:labels":{".":{},"f:batch.kubernetes.io/controller-uid":{},"f:batch.kubernetes.io/job-completion-index":{},"f:batch.kubernetes.io/job-name":{},"f:controller-uid":{},"f:job-name":{}},"f:ownerReferences":{".":{},"k:{\"uid\":\"0b8d5f8e-7a43-4b0c-9f51-6a0a3f3e2c11\"}":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:command":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:resources":{},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:enableServiceLinks":{},"f:hostname":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:subdomain":{},"f:terminationGracePeriodSeconds":{}}}`)},
				{Manager: "batchlet-agent", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Time: &at, FieldsType: "FieldsV1", Subresource: "status",
					FieldsV1: fields(`{"f:status":{"f:conditions":{"k:{\"type\":\"ContainersReady\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:reason":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Initialized\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Ready\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:reason":{},"f:status":{},"f:type":{}}},"f:containerStatuses":{},"f:hostIP":{},"f:hostIPs":{},"f:phase":{},"f:podIP":{},"f:podIPs":{".":{},"k:{\"ip\":\"10.244.0.7\"}":{".":{},"f:ip":{}}},"f:startTime":{}}}`)},
			},
		},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"/bin/true"},
				TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				ImagePullPolicy: corev1.PullAlways,
				Env:             []corev1.EnvVar{{Name: "JOB_COMPLETION_INDEX", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}}}}},
			DNSPolicy: corev1.DNSClusterFirst, SchedulerName: "default-scheduler", NodeName: "node-1",
			Hostname: "bench-417", Subdomain: "bench", EnableServiceLinks: &yes,
			SecurityContext: &corev1.PodSecurityContext{},
			Tolerations: []corev1.Toleration{
				{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
				{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
			},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodSucceeded,
			Conditions: []corev1.PodCondition{
				cond(corev1.PodReadyToStartContainers, corev1.ConditionFalse, ""),
				cond(corev1.PodInitialized, corev1.ConditionTrue, ""),
				cond(corev1.PodReady, corev1.ConditionFalse, "PodCompleted"),
				cond(corev1.ContainersReady, corev1.ConditionFalse, "PodCompleted"),
				cond(corev1.PodScheduled, corev1.ConditionTrue, ""),
			},
			HostIP: "10.0.0.2", HostIPs: []corev1.HostIP{{IP: "10.0.0.2"}},
			PodIP: "10.244.0.7", PodIPs: []corev1.PodIP{{IP: "10.244.0.7"}},
			StartTime: &at, QOSClass: corev1.PodQOSBestEffort,
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "c", Image: "docker.io/library/busybox:latest", ImageID: "sha256:0123456789abcdef",
				ContainerID: "batchlet://0123456789abcdef", Started: &no,
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					ExitCode: 0, Reason: "Completed", StartedAt: at, FinishedAt: at,
					ContainerID: "batchlet://0123456789abcdef",
				}},
			}},
		},
	}
}

// benchWatchEvents are a modification and a deletion of benchWatchPod
// as etcd reports them.
func benchWatchEvents(b *testing.B) (*watcher, *clientv3.Event, *clientv3.Event) {
	b.Helper()
	s := newStore(nil, scheme.Scheme)
	data, _, err := s.codec.encode(benchWatchPod())
	if err != nil {
		b.Fatal(err)
	}
	key := []byte("/registry/core/pods/default/bench-417-x7k2p")
	prev := &mvccpb.KeyValue{Key: key, Value: data, CreateRevision: 100, ModRevision: 180}
	mod := &clientv3.Event{Type: clientv3.EventTypePut,
		Kv:     &mvccpb.KeyValue{Key: key, Value: data, CreateRevision: 100, ModRevision: 200},
		PrevKv: prev}
	del := &clientv3.Event{Type: clientv3.EventTypeDelete,
		Kv:     &mvccpb.KeyValue{Key: key, ModRevision: 200},
		PrevKv: prev}
	return &watcher{store: s, prefix: "/registry/core/pods/"}, mod, del
}

// BenchmarkWatchConvert is the cost of turning one etcd watch event of a
// pod into a complete storage.Event: by Watch, and by WatchDeferPrev with
// the consumer holding the previous object (known) or not.
func BenchmarkWatchConvert(b *testing.B) {
	w, mod, del := benchWatchEvents(b)
	known, err := w.store.codec.decode(mod.PrevKv.Value, mod.PrevKv.ModRevision)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		ev        *clientv3.Event
		deferPrev bool
		known     k8sruntime.Object
	}{
		{"modified", mod, false, nil},
		{"deleted", del, false, nil},
		{"modified/deferred", mod, true, nil},
		{"modified/deferred-known", mod, true, known},
		{"deleted/deferred-known", del, true, known},
	} {
		b.Run(c.name, func(b *testing.B) {
			w.deferPrev = c.deferPrev
			b.ReportAllocs()
			for b.Loop() {
				ev, err := w.convertEvent(c.ev)
				if err == nil {
					err = ev.CompletePrev(c.known)
				}
				if err != nil || ev.PrevObject == nil || ev.Object == nil {
					b.Fatalf("%v %v", ev, err)
				}
			}
		})
	}
}

// BenchmarkPrevObject compares the two ways of making a second object
// from one stored value: decoding it again, or copying the first.
func BenchmarkPrevObject(b *testing.B) {
	w, _, del := benchWatchEvents(b)
	codec := w.store.codec
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := codec.decode(del.PrevKv.Value, del.Kv.ModRevision); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("deepcopy", func(b *testing.B) {
		prev, err := codec.decode(del.PrevKv.Value, del.PrevKv.ModRevision)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := setResourceVersion(prev.DeepCopyObject(), del.Kv.ModRevision); err != nil {
				b.Fatal(err)
			}
		}
	})
}
