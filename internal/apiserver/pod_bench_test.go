package apiserver

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/batchlet/batchlet/internal/registry"
	"github.com/batchlet/batchlet/internal/registry/pod"
)

// The pod benchmarks replay the writes one Job pod costs the apiserver,
// as the in-process components send them (protobuf bodies and answers,
// the shared "batchlet" field manager): the Job controller's create, the
// scheduler's binding, the agent's one status write and the Job
// controller's patch removing the tracking finalizer.

const benchPods = "/api/v1/namespaces/default/pods"

var benchCodec = protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)

type podBench struct {
	b *testing.B
	h http.Handler
}

func newPodBench(b *testing.B) *podBench {
	b.Helper()
	h, err := New(Config{Storage: newMemStore(), Resources: []registry.Resource{namespaceResource(), pod.Resource()},
		Clock: clocktesting.NewFakeClock(testNow)})
	if err != nil {
		b.Fatal(err)
	}
	pb := &podBench{b: b, h: h}
	if rec := benchServe(h, http.MethodPost, "/api/v1/namespaces", []byte(`{"metadata":{"name":"default"}}`)); rec.Code != http.StatusCreated {
		b.Fatalf("namespace: %d %s", rec.Code, rec.Body.Bytes())
	}
	return pb
}

// do sends a protobuf (or, for patches, JSON) request as the in-process
// clients do and fails unless the answer has status want.
func (pb *podBench) do(method, path, contentType string, body []byte, want int) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", mediaProtobuf+", "+mediaJSON)
	req.Header.Set("User-Agent", "batchlet")
	rec := httptest.NewRecorder()
	pb.h.ServeHTTP(rec, req)
	if rec.Code != want {
		pb.b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body.Bytes())
	}
	return rec
}

func (pb *podBench) encode(obj runtime.Object) []byte {
	var buf bytes.Buffer
	if err := benchCodec.Encode(obj, &buf); err != nil {
		pb.b.Fatal(err)
	}
	return buf.Bytes()
}

func (pb *podBench) decodePod(data []byte) *corev1.Pod {
	obj, _, err := benchCodec.Decode(data, nil, &corev1.Pod{})
	if err != nil {
		pb.b.Fatal(err)
	}
	return obj.(*corev1.Pod)
}

// create, bind, setStatus and removeFinalizer are the four writes of a
// pod's life.
func (pb *podBench) create(name string) {
	pb.do(http.MethodPost, benchPods, mediaProtobuf, pb.encode(benchJobPod(name)), http.StatusCreated)
}

func (pb *podBench) bind(name string) {
	binding := &corev1.Binding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Binding"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Target:     corev1.ObjectReference{Kind: "Node", Name: "node-1"},
	}
	pb.do(http.MethodPost, benchPods+"/"+name+"/binding", mediaProtobuf, pb.encode(binding), http.StatusCreated)
}

func (pb *podBench) setStatus(name string) {
	rec := pb.do(http.MethodGet, benchPods+"/"+name, "", nil, http.StatusOK)
	p := pb.decodePod(rec.Body.Bytes())
	p.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	p.Status = benchSucceededStatus(p.Status.Conditions)
	pb.do(http.MethodPut, benchPods+"/"+name+"/status", mediaProtobuf, pb.encode(p), http.StatusOK)
}

var benchRemoveFinalizer = []byte(`{"metadata":{"$deleteFromPrimitiveList/finalizers":["batch.kubernetes.io/job-tracking"]}}`)

func (pb *podBench) removeFinalizer(name string) {
	pb.do(http.MethodPatch, benchPods+"/"+name, "application/strategic-merge-patch+json", benchRemoveFinalizer, http.StatusOK)
}

// benchJobPod is a pod as the Job controller creates it for a one-container
// Job running /bin/true.
func benchJobPod(name string) *corev1.Pod {
	yes := true
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "default", GenerateName: "bench-",
			Labels: map[string]string{
				"batch.kubernetes.io/controller-uid": "0b8d5f8e-7a43-4b0c-9f51-6a0a3f3e2c11",
				"batch.kubernetes.io/job-name":       "bench",
				"controller-uid":                     "0b8d5f8e-7a43-4b0c-9f51-6a0a3f3e2c11",
				"job-name":                           "bench",
			},
			Finalizers: []string{"batch.kubernetes.io/job-tracking"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "bench",
				UID: "0b8d5f8e-7a43-4b0c-9f51-6a0a3f3e2c11", Controller: &yes, BlockOwnerDeletion: &yes}},
		},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"/bin/true"}}},
		},
	}
}

// benchSucceededStatus is the agent's status of a pod whose one container
// ran and exited 0, keeping the scheduler's conditions.
func benchSucceededStatus(scheduled []corev1.PodCondition) corev1.PodStatus {
	at := metav1.NewTime(testNow.Add(2 * time.Second))
	cond := func(t corev1.PodConditionType, s corev1.ConditionStatus, reason string) corev1.PodCondition {
		return corev1.PodCondition{Type: t, Status: s, Reason: reason, LastTransitionTime: at}
	}
	conds := []corev1.PodCondition{
		cond(corev1.PodReadyToStartContainers, corev1.ConditionFalse, ""),
		cond(corev1.PodInitialized, corev1.ConditionTrue, ""),
		cond(corev1.PodReady, corev1.ConditionFalse, "PodCompleted"),
		cond(corev1.ContainersReady, corev1.ConditionFalse, "PodCompleted"),
	}
	conds = append(conds, scheduled...)
	start := metav1.NewTime(testNow.Add(time.Second))
	started := false
	return corev1.PodStatus{
		Phase:      corev1.PodSucceeded,
		Conditions: conds,
		HostIP:     "10.0.0.2", HostIPs: []corev1.HostIP{{IP: "10.0.0.2"}},
		PodIP: "10.244.0.7", PodIPs: []corev1.PodIP{{IP: "10.244.0.7"}},
		StartTime: &start,
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "c", Image: "docker.io/library/busybox:latest", ImageID: "sha256:0123456789abcdef",
			ContainerID: "batchlet://0123456789abcdef", Started: &started,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 0, Reason: "Completed", StartedAt: start, FinishedAt: at,
				ContainerID: "batchlet://0123456789abcdef",
			}},
		}},
		QOSClass: corev1.PodQOSBestEffort,
	}
}

// BenchmarkPodLifecycle measures the four writes of one pod.
func BenchmarkPodLifecycle(b *testing.B) {
	pb := newPodBench(b)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("bench-%d", i)
		pb.create(name)
		pb.bind(name)
		pb.setStatus(name)
		pb.removeFinalizer(name)
	}
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkPodStatusUpdate measures the agent's status write of a bound
// pod (the read of the pod it starts from included); BenchmarkPodFinalizerPatch
// the Job controller's finalizer removal of a finished pod.
func BenchmarkPodStatusUpdate(b *testing.B) {
	benchPodStep(b, func(pb *podBench, name string) { pb.create(name); pb.bind(name) }, (*podBench).setStatus)
}

func BenchmarkPodFinalizerPatch(b *testing.B) {
	benchPodStep(b, func(pb *podBench, name string) { pb.create(name); pb.bind(name); pb.setStatus(name) }, (*podBench).removeFinalizer)
}

// BenchmarkPodFinalizerPatchGeneral is BenchmarkPodFinalizerPatch with the
// finalizer patch fast path off, the cost it saves.
func BenchmarkPodFinalizerPatchGeneral(b *testing.B) {
	benchPodStep(b, func(pb *podBench, name string) {
		pb.h.(*server).generalPatchesOnly = true
		pb.create(name)
		pb.bind(name)
		pb.setStatus(name)
	}, (*podBench).removeFinalizer)
}

// benchPodStep times step on pods that setup brought to the state before
// it, preparing them in batches outside the measurement.
func benchPodStep(b *testing.B, setup, step func(pb *podBench, name string)) {
	pb := newPodBench(b)
	b.ReportAllocs()
	b.ResetTimer()
	var cpu time.Duration
	const batch = 128
	for done := 0; done < b.N; {
		n := min(batch, b.N-done)
		b.StopTimer()
		for i := done; i < done+n; i++ {
			setup(pb, fmt.Sprintf("bench-%d", i))
		}
		b.StartTimer()
		start := processCPU()
		for i := done; i < done+n; i++ {
			step(pb, fmt.Sprintf("bench-%d", i))
		}
		cpu += processCPU() - start
		done += n
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
}
