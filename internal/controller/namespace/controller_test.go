package namespace

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

var (
	podsGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	cmGVR   = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	kinds   = map[schema.GroupVersionResource]schema.GroupVersionKind{
		podsGVR: {Version: "v1", Kind: "Pod"},
		cmGVR:   {Version: "v1", Kind: "ConfigMap"},
	}
)

type objRef struct {
	gvr       schema.GroupVersionResource
	namespace string
	name      string
}

type fixture struct {
	t        *testing.T
	c        *Controller
	client   *fake.Clientset
	metadata *metadatafake.FakeMetadataClient
	objects  []objRef
	factory  informers.SharedInformerFactory
}

func newFixture(t *testing.T, ns *corev1.Namespace) *fixture {
	t.Helper()
	client := fake.NewClientset(ns)
	client.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{{
		GroupVersion: "v1",
		APIResources: []metav1.APIResource{
			{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: []string{"list", "delete", "deletecollection"}},
			{Name: "configmaps", Namespaced: true, Kind: "ConfigMap", Verbs: []string{"list", "delete"}},
			{Name: "nodes", Namespaced: false, Kind: "Node", Verbs: []string{"list", "delete", "deletecollection"}},
		},
	}}
	scheme := metadatafake.NewTestScheme()
	for _, gvk := range kinds {
		scheme.AddKnownTypeWithName(gvk, &metav1.PartialObjectMetadata{})
	}
	md := metadatafake.NewSimpleMetadataClient(scheme)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := NewController(client, md, client.Discovery(), factory, clocktesting.NewFakeClock(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.queue.ShutDown)
	if err := factory.Core().V1().Namespaces().Informer().GetIndexer().Add(ns); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, c: c, client: client, metadata: md, factory: factory}
	md.PrependReactor("delete-collection", "*", f.deleteCollection)
	md.PrependReactor("delete", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		d := a.(k8stesting.DeleteActionImpl)
		return true, nil, f.deleteOne(objRef{d.GetResource(), d.GetNamespace(), d.Name})
	})
	return f
}

func (f *fixture) add(gvr schema.GroupVersionResource, ns, name string, finalizers ...string) objRef {
	f.t.Helper()
	obj := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: kinds[gvr].GroupVersion().String(), Kind: kinds[gvr].Kind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Finalizers: finalizers},
	}
	if err := f.metadata.Tracker().Add(obj); err != nil {
		f.t.Fatal(err)
	}
	r := objRef{gvr, ns, name}
	f.objects = append(f.objects, r)
	return r
}

func (f *fixture) get(r objRef) (*metav1.PartialObjectMetadata, bool) {
	obj, err := f.metadata.Tracker().Get(r.gvr, r.namespace, r.name)
	if err != nil {
		return nil, false
	}
	return obj.(*metav1.PartialObjectMetadata), true
}

// deleteOne deletes like the apiserver: objects with finalizers only get a
// deletionTimestamp.
func (f *fixture) deleteOne(r objRef) error {
	m, ok := f.get(r)
	if !ok {
		return apierrors.NewNotFound(r.gvr.GroupResource(), r.name)
	}
	if len(m.Finalizers) == 0 {
		return f.metadata.Tracker().Delete(r.gvr, r.namespace, r.name)
	}
	m = m.DeepCopy()
	m.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	return f.metadata.Tracker().Update(r.gvr, m, r.namespace)
}

func (f *fixture) deleteCollection(a k8stesting.Action) (bool, runtime.Object, error) {
	for _, r := range f.objects {
		if r.gvr == a.GetResource() && r.namespace == a.GetNamespace() {
			if _, ok := f.get(r); ok {
				if err := f.deleteOne(r); err != nil {
					return true, nil, err
				}
			}
		}
	}
	return true, nil, nil
}

func (f *fixture) namespace(name string) *corev1.Namespace {
	ns, err := f.client.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return ns
}

func (f *fixture) finalizeCalls() []*corev1.Namespace {
	var out []*corev1.Namespace
	for _, a := range f.client.Actions() {
		if c, ok := a.(k8stesting.CreateActionImpl); ok && c.GetSubresource() == "finalize" {
			out = append(out, c.GetObject().(*corev1.Namespace))
		}
	}
	return out
}

func condition(ns *corev1.Namespace, t corev1.NamespaceConditionType) corev1.NamespaceCondition {
	for _, c := range ns.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return corev1.NamespaceCondition{}
}

func TestContentDeletedThenFinalized(t *testing.T) {
	ns := &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "gone", DeletionTimestamp: &metav1.Time{Time: time.Now()}},
		Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
	}
	f := newFixture(t, ns)
	slow := f.add(podsGVR, "gone", "slow", "batch.kubernetes.io/job-tracking")
	quick := f.add(podsGVR, "gone", "quick")
	cm := f.add(cmGVR, "gone", "settings")
	elsewhere := f.add(podsGVR, "other", "keep")
	ctx := context.Background()

	// First pass: content deleted, one pod still terminating.
	if err := f.c.sync(ctx, "gone"); err != errContentRemaining {
		t.Fatalf("sync = %v, want content remaining", err)
	}
	if _, ok := f.get(quick); ok {
		t.Error("pod not deleted")
	}
	if _, ok := f.get(cm); ok {
		t.Error("configmap (no deletecollection) not deleted")
	}
	if p, ok := f.get(slow); !ok || p.DeletionTimestamp == nil {
		t.Errorf("pod with a finalizer should be terminating: %+v", p)
	}
	if _, ok := f.get(elsewhere); !ok {
		t.Error("content of another namespace deleted")
	}
	if n := len(f.finalizeCalls()); n != 0 {
		t.Fatalf("finalized while content remains (%d calls)", n)
	}
	got := f.namespace("gone")
	if got.Status.Phase != corev1.NamespaceTerminating {
		t.Errorf("phase = %s", got.Status.Phase)
	}
	remaining := condition(got, corev1.NamespaceContentRemaining)
	if remaining.Status != corev1.ConditionTrue || remaining.Reason != "SomeResourcesRemain" || !strings.Contains(remaining.Message, "pods has 1 resource instances") {
		t.Errorf("ContentRemaining = %+v", remaining)
	}
	fin := condition(got, corev1.NamespaceFinalizersRemaining)
	if fin.Status != corev1.ConditionTrue || !strings.Contains(fin.Message, "batch.kubernetes.io/job-tracking in 1 resource instances") {
		t.Errorf("FinalizersRemaining = %+v", fin)
	}
	if c := condition(got, corev1.NamespaceDeletionContentFailure); c.Status != corev1.ConditionFalse || c.Reason != "ContentDeleted" {
		t.Errorf("ContentFailure = %+v", c)
	}
	// The pod finishes; the next pass finalizes.
	if err := f.metadata.Tracker().Delete(podsGVR, "gone", "slow"); err != nil {
		t.Fatal(err)
	}
	if err := f.factory.Core().V1().Namespaces().Informer().GetIndexer().Update(got); err != nil {
		t.Fatal(err)
	}
	if err := f.c.sync(ctx, "gone"); err != nil {
		t.Fatalf("sync = %v", err)
	}
	calls := f.finalizeCalls()
	if len(calls) != 1 || len(calls[0].Spec.Finalizers) != 0 {
		t.Fatalf("finalize calls = %+v", calls)
	}
}

func TestIgnoresLiveAndFinalizedNamespaces(t *testing.T) {
	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "live"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "done", DeletionTimestamp: &metav1.Time{Time: time.Now()}}},
	} {
		f := newFixture(t, ns)
		pod := f.add(podsGVR, ns.Name, "p")
		if err := f.c.sync(context.Background(), ns.Name); err != nil {
			t.Fatal(err)
		}
		if _, ok := f.get(pod); !ok {
			t.Errorf("%s: content deleted", ns.Name)
		}
		if n := len(f.finalizeCalls()); n != 0 {
			t.Errorf("%s: finalized", ns.Name)
		}
	}
}
