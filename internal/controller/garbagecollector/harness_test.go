package garbagecollector

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/batchlet/batchlet/internal/controller/queueworker"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	metadatafake "k8s.io/client-go/metadata/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

var (
	podsGVR     = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	jobsGVR     = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
	cronJobsGVR = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}
	kinds       = map[schema.GroupVersionResource]schema.GroupVersionKind{
		podsGVR:     {Version: "v1", Kind: "Pod"},
		jobsGVR:     {Group: "batch", Version: "v1", Kind: "Job"},
		cronJobsGVR: {Group: "batch", Version: "v1", Kind: "CronJob"},
	}
)

// world is a fake API over the metadata fake client that executes
// deletion like the apiserver does (finalizers, deletionTimestamp,
// propagation policies), and feeds the collector's graph the way its
// informers would.
type world struct {
	t      *testing.T
	client *metadatafake.FakeMetadataClient
	gc     *Controller
	known  map[objectKey]bool
	seen   map[types.UID]string // uid -> last resourceVersion fed to the graph
	rv     int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	scheme := metadatafake.NewTestScheme()
	for _, gvk := range kinds {
		scheme.AddKnownTypeWithName(gvk, &metav1.PartialObjectMetadata{})
	}
	client := metadatafake.NewSimpleMetadataClient(scheme)
	mapper := meta.NewDefaultRESTMapper(nil)
	for _, gvk := range kinds {
		mapper.Add(gvk, meta.RESTScopeNamespace)
	}
	gc, err := NewController(nil, client, mapper, clocktesting.NewFakeClock(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gc.queue.ShutDown)
	w := &world{t: t, client: client, gc: gc, known: map[objectKey]bool{}, seen: map[types.UID]string{}}
	client.PrependReactor("delete", "*", w.reactDelete)
	client.PrependReactor("patch", "*", w.reactPatch)
	return w
}

// create adds an object with the given owners.
func (w *world) create(gvr schema.GroupVersionResource, name string, owners ...metav1.OwnerReference) objectKey {
	w.t.Helper()
	obj := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: kinds[gvr].GroupVersion().String(), Kind: kinds[gvr].Kind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(gvr.Resource + "-" + name), OwnerReferences: owners},
	}
	w.rv++
	obj.ResourceVersion = itoa(w.rv)
	if err := w.client.Tracker().Add(obj); err != nil {
		w.t.Fatal(err)
	}
	k := objectKey{resource: gvr, namespace: "default", name: name, uid: obj.UID}
	w.known[k] = true
	return k
}

func itoa(i int) string { return strconv.Itoa(i) }

func patchRV(data []byte) string {
	var p struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(data, &p)
	return p.Metadata.ResourceVersion
}

// ref is an owner reference to k as controllers write them.
func ref(k objectKey) metav1.OwnerReference {
	gvk := kinds[k.resource]
	return metav1.OwnerReference{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Name: k.name, UID: k.uid,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
}

func (w *world) get(k objectKey) (*metav1.PartialObjectMetadata, bool) {
	obj, err := w.client.Tracker().Get(k.resource, k.namespace, k.name)
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return obj.(*metav1.PartialObjectMetadata), true
}

func (w *world) update(k objectKey, obj *metav1.PartialObjectMetadata) {
	w.t.Helper()
	w.rv++
	obj.ResourceVersion = itoa(w.rv)
	if err := w.client.Tracker().Update(k.resource, obj, k.namespace); err != nil {
		w.t.Fatal(err)
	}
}

// deleteWith deletes as a client would, with a propagation policy.
func (w *world) deleteWith(k objectKey, policy metav1.DeletionPropagation) {
	w.t.Helper()
	err := w.client.Resource(k.resource).Namespace(k.namespace).Delete(context.Background(), k.name, metav1.DeleteOptions{PropagationPolicy: &policy})
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) reactDelete(a k8stesting.Action) (bool, runtime.Object, error) {
	d := a.(k8stesting.DeleteActionImpl)
	obj, err := w.client.Tracker().Get(d.GetResource(), d.GetNamespace(), d.Name)
	if err != nil {
		return true, nil, err
	}
	m := obj.(*metav1.PartialObjectMetadata).DeepCopy()
	if p := d.DeleteOptions.Preconditions; p != nil && p.UID != nil && *p.UID != m.UID {
		return true, nil, apierrors.NewConflict(d.GetResource().GroupResource(), d.Name, nil)
	}
	k := objectKey{resource: d.GetResource(), namespace: d.GetNamespace(), name: d.Name, uid: m.UID}
	policy := metav1.DeletePropagationBackground
	if d.DeleteOptions.PropagationPolicy != nil {
		policy = *d.DeleteOptions.PropagationPolicy
	}
	switch policy {
	case metav1.DeletePropagationOrphan:
		m.Finalizers = append(m.Finalizers, metav1.FinalizerOrphanDependents)
	case metav1.DeletePropagationForeground:
		m.Finalizers = append(m.Finalizers, metav1.FinalizerDeleteDependents)
	}
	if len(m.Finalizers) == 0 {
		return true, nil, w.client.Tracker().Delete(k.resource, k.namespace, k.name)
	}
	if m.DeletionTimestamp == nil {
		m.DeletionTimestamp = ptr.To(metav1.Now())
	}
	w.update(k, m)
	return true, nil, nil
}

// reactPatch lets the default reaction apply the merge patch, then checks
// the resourceVersion precondition and removes objects whose last
// finalizer went.
func (w *world) reactPatch(a k8stesting.Action) (bool, runtime.Object, error) {
	p := a.(k8stesting.PatchActionImpl)
	before, err := w.client.Tracker().Get(p.GetResource(), p.GetNamespace(), p.Name)
	if err != nil {
		return true, nil, err
	}
	beforeRV := before.(*metav1.PartialObjectMetadata).ResourceVersion
	if rv := patchRV(p.Patch); rv != "" && rv != beforeRV {
		return true, nil, apierrors.NewConflict(p.GetResource().GroupResource(), p.Name, nil)
	}
	handled, obj, err := k8stesting.ObjectReaction(w.client.Tracker())(a)
	if err != nil || !handled {
		return handled, obj, err
	}
	m := obj.(*metav1.PartialObjectMetadata).DeepCopy()
	k := objectKey{resource: p.GetResource(), namespace: p.GetNamespace(), name: p.Name, uid: m.UID}
	if m.DeletionTimestamp != nil && len(m.Finalizers) == 0 {
		return true, m, w.client.Tracker().Delete(k.resource, k.namespace, k.name)
	}
	w.update(k, m)
	return true, m, nil
}

// settle feeds every change to the graph (as informers would) and runs the
// collector until nothing changes any more.
func (w *world) settle() {
	w.t.Helper()
	for round := 0; round < 50; round++ {
		changed := false
		for k := range w.known {
			obj, ok := w.get(k)
			rv, wasSeen := w.seen[k.uid]
			switch {
			case !ok && wasSeen:
				delete(w.seen, k.uid)
				w.gc.forget(&metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{UID: k.uid, Name: k.name, Namespace: k.namespace, OwnerReferences: w.lastOwners(k)}})
				changed = true
			case ok && rv != obj.ResourceVersion:
				w.seen[k.uid] = obj.ResourceVersion
				w.gc.observe(k.resource, obj)
				changed = true
			}
		}
		for w.gc.queue.Len() > 0 {
			changed = true
			queueworker.ProcessNext(context.Background(), w.gc.queue, w.gc.process, w.gc.processFailed)
		}
		if !changed {
			return
		}
	}
	w.t.Fatal("the collector did not settle")
}

func (w *world) lastOwners(k objectKey) []metav1.OwnerReference {
	if n, ok := w.gc.graph.get(k.uid); ok {
		return n.owners
	}
	return nil
}
