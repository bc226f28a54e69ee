package garbagecollector

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestBackgroundDeletesDependents(t *testing.T) {
	w := newWorld(t)
	job := w.create(jobsGVR, "pi")
	p1 := w.create(podsGVR, "pi-a", ref(job))
	p2 := w.create(podsGVR, "pi-b", ref(job))
	other := w.create(podsGVR, "unrelated")
	w.settle()
	if _, ok := w.get(p1); !ok {
		t.Fatal("dependent deleted while its owner exists")
	}
	w.deleteWith(job, metav1.DeletePropagationBackground)
	if _, ok := w.get(job); ok {
		t.Fatal("owner not removed at once under Background")
	}
	w.settle()
	for _, p := range []objectKey{p1, p2} {
		if _, ok := w.get(p); ok {
			t.Errorf("%s survived its owner", p.name)
		}
	}
	if _, ok := w.get(other); !ok {
		t.Error("an object without owners was deleted")
	}
	// Each dependent was deleted by UID.
	for _, a := range w.client.Actions() {
		if a.GetVerb() == "delete" && a.GetResource() == podsGVR {
			opts := a.(interface{ GetDeleteOptions() metav1.DeleteOptions }).GetDeleteOptions()
			if opts.Preconditions == nil || opts.Preconditions.UID == nil {
				t.Errorf("pod delete without UID precondition: %+v", opts)
			}
		}
	}
}

func TestForegroundCronJobJobsPods(t *testing.T) {
	w := newWorld(t)
	cj := w.create(cronJobsGVR, "hello")
	job := w.create(jobsGVR, "hello-1", ref(cj))
	pod := w.create(podsGVR, "hello-1-x", ref(job))
	// The pod lingers (graceful deletion, tracking finalizer) until told.
	p, _ := w.get(pod)
	p.Finalizers = []string{"batch.kubernetes.io/job-tracking"}
	w.update(pod, p)
	w.settle()

	w.deleteWith(cj, metav1.DeletePropagationForeground)
	w.settle()
	c, ok := w.get(cj)
	if !ok || c.DeletionTimestamp == nil || !reflect.DeepEqual(c.Finalizers, []string{metav1.FinalizerDeleteDependents}) {
		t.Fatalf("cronjob while dependents remain = %+v, %v", c, ok)
	}
	j, ok := w.get(job)
	if !ok || j.DeletionTimestamp == nil || !reflect.DeepEqual(j.Finalizers, []string{metav1.FinalizerDeleteDependents}) {
		t.Fatalf("job should be deleting in the foreground: %+v", j)
	}
	p, ok = w.get(pod)
	if !ok || p.DeletionTimestamp == nil {
		t.Fatalf("pod should be terminating: %+v", p)
	}
	// The pod finishes terminating: everything goes, owner last.
	p.Finalizers = nil
	w.update(pod, p)
	if err := w.client.Tracker().Delete(podsGVR, "default", pod.name); err != nil {
		t.Fatal(err)
	}
	w.settle()
	for _, k := range []objectKey{cj, job, pod} {
		if _, ok := w.get(k); ok {
			t.Errorf("%s %s still exists", k.resource.Resource, k.name)
		}
	}
}

func TestForegroundNonBlockingDependentDoesNotBlock(t *testing.T) {
	w := newWorld(t)
	owner := w.create(jobsGVR, "o")
	r := ref(owner)
	r.BlockOwnerDeletion = nil
	dep := w.create(podsGVR, "d", r)
	d, _ := w.get(dep)
	d.Finalizers = []string{"example.com/hold"}
	w.update(dep, d)
	w.settle()
	w.deleteWith(owner, metav1.DeletePropagationForeground)
	w.settle()
	if _, ok := w.get(owner); ok {
		t.Fatal("owner waited for a dependent without blockOwnerDeletion")
	}
	if d, ok := w.get(dep); !ok || d.DeletionTimestamp == nil {
		t.Fatalf("dependent not being deleted: %+v", d)
	}
}

// TestOrphanThenAdopt follows the seed walk-through: a Job deleted with
// --cascade=orphan leaves its pods, without the owner reference, for a new
// Job with manualSelector to adopt.
func TestOrphanThenAdopt(t *testing.T) {
	w := newWorld(t)
	old := w.create(jobsGVR, "old")
	pods := []objectKey{w.create(podsGVR, "old-a", ref(old)), w.create(podsGVR, "old-b", ref(old))}
	w.settle()
	w.deleteWith(old, metav1.DeletePropagationOrphan)
	if o, ok := w.get(old); !ok || !reflect.DeepEqual(o.Finalizers, []string{metav1.FinalizerOrphanDependents}) {
		t.Fatalf("orphaning owner = %+v", o)
	}
	w.settle()
	if _, ok := w.get(old); ok {
		t.Fatal("owner kept after orphaning")
	}
	for _, k := range pods {
		p, ok := w.get(k)
		if !ok {
			t.Fatalf("%s deleted under Orphan", k.name)
		}
		if len(p.OwnerReferences) != 0 {
			t.Fatalf("%s still has owner references %+v", k.name, p.OwnerReferences)
		}
	}
	// The new Job's controller adopts them; the collector leaves them be.
	adopter := w.create(jobsGVR, "new")
	for _, k := range pods {
		p, _ := w.get(k)
		p.OwnerReferences = []metav1.OwnerReference{ref(adopter)}
		w.update(k, p)
	}
	w.settle()
	for _, k := range pods {
		if p, ok := w.get(k); !ok || len(p.OwnerReferences) != 1 || p.OwnerReferences[0].UID != adopter.uid {
			t.Fatalf("adopted pod = %+v", p)
		}
	}
}

func TestDanglingOwnersCheckedByUID(t *testing.T) {
	w := newWorld(t)
	live := w.create(jobsGVR, "live")
	stale := ref(live)
	stale.UID = "a-previous-incarnation"
	missing := ref(objectKey{resource: jobsGVR, namespace: "default", name: "never", uid: "never-existed"})
	kept := w.create(podsGVR, "kept", ref(live))
	staleDep := w.create(podsGVR, "stale", stale)
	missingDep := w.create(podsGVR, "missing", missing)
	twoOwners := w.create(podsGVR, "two", ref(live), missing)
	w.settle()
	if _, ok := w.get(kept); !ok {
		t.Error("dependent of a live owner deleted")
	}
	for _, k := range []objectKey{staleDep, missingDep} {
		if _, ok := w.get(k); ok {
			t.Errorf("%s (owner gone by UID) not deleted", k.name)
		}
	}
	two, ok := w.get(twoOwners)
	if !ok {
		t.Fatal("dependent with a live owner deleted")
	}
	if len(two.OwnerReferences) != 1 || two.OwnerReferences[0].UID != live.uid {
		t.Fatalf("dangling reference not removed: %+v", two.OwnerReferences)
	}
}

func TestDecideDependent(t *testing.T) {
	o1 := metav1.OwnerReference{UID: "1", BlockOwnerDeletion: ptr.To(true)}
	o2 := metav1.OwnerReference{UID: "2"}
	tests := []struct {
		name            string
		owners          []metav1.OwnerReference
		finalizers      []string
		states          []ownerState
		deps, depInFore bool
		want            verdict
	}{
		{"no owners", nil, nil, nil, false, false, verdict{kind: keep}},
		{"solid", []metav1.OwnerReference{o1}, nil, []ownerState{ownerSolid}, false, false, verdict{kind: keep}},
		{"solid and dangling", []metav1.OwnerReference{o1, o2}, nil, []ownerState{ownerSolid, ownerDangling}, false, false, verdict{kind: dropRefs, refs: []metav1.OwnerReference{o2}}},
		{"dangling", []metav1.OwnerReference{o1}, nil, []ownerState{ownerDangling}, false, false, verdict{kind: deleteObject, policy: metav1.DeletePropagationBackground}},
		{"dangling, orphan finalizer", []metav1.OwnerReference{o1}, []string{metav1.FinalizerOrphanDependents}, []ownerState{ownerDangling}, false, false, verdict{kind: deleteObject, policy: metav1.DeletePropagationOrphan}},
		{"waiting, no dependents", []metav1.OwnerReference{o1}, nil, []ownerState{ownerWaiting}, false, false, verdict{kind: deleteObject, policy: metav1.DeletePropagationBackground}},
		{"waiting, with dependents", []metav1.OwnerReference{o1}, nil, []ownerState{ownerWaiting}, true, false, verdict{kind: deleteObject, policy: metav1.DeletePropagationForeground}},
		{"waiting, dependent in foreground", []metav1.OwnerReference{o1}, nil, []ownerState{ownerWaiting}, true, true, verdict{kind: deleteObject, policy: metav1.DeletePropagationForeground, unblock: []metav1.OwnerReference{o1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := &node{owners: tc.owners, finalizers: tc.finalizers}
			if got := decideDependent(n, tc.states, tc.deps, tc.depInFore); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
