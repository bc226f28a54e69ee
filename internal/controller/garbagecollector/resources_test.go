package garbagecollector

import (
	"context"
	"errors"
	"sort"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
)

// fakeDiscovery answers ServerPreferredResources with fixed lists.
type fakeDiscovery struct {
	lists []*metav1.APIResourceList
	err   error
}

func (f fakeDiscovery) ServerPreferredResources() ([]*metav1.APIResourceList, error) {
	return f.lists, f.err
}

var allVerbs = metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// servedLists is discovery of a server like ours: some resources cannot
// be deleted, listed or watched, some are subresources, some ignored.
func servedLists() []*metav1.APIResourceList {
	return []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: allVerbs},
			{Name: "pods/status", Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"get", "patch", "update"}},
			{Name: "pods/eviction", Namespaced: true, Kind: "Eviction", Verbs: metav1.Verbs{"create"}},
			{Name: "bindings", Namespaced: true, Kind: "Binding", Verbs: metav1.Verbs{"create"}},
			{Name: "events", Namespaced: true, Kind: "Event", Verbs: allVerbs},
			{Name: "nodes", Kind: "Node", Verbs: allVerbs},
			{Name: "componentstatuses", Kind: "ComponentStatus", Verbs: metav1.Verbs{"get", "list"}},
		}},
		{GroupVersion: "batch/v1", APIResources: []metav1.APIResource{
			{Name: "jobs", Namespaced: true, Kind: "Job", Verbs: allVerbs},
			{Name: "jobs/status", Namespaced: true, Kind: "Job", Verbs: metav1.Verbs{"get", "patch", "update"}},
			{Name: "cronjobs", Namespaced: true, Kind: "CronJob", Verbs: allVerbs},
		}},
		{GroupVersion: "events.k8s.io/v1", APIResources: []metav1.APIResource{
			{Name: "events", Namespaced: true, Kind: "Event", Verbs: allVerbs},
		}},
	}
}

func gvrs(served []servedResource) []string {
	var out []string
	for _, r := range served {
		out = append(out, r.gvr.String())
	}
	sort.Strings(out)
	return out
}

func TestDiscoverResourcesKeepsDeletableListableWatchable(t *testing.T) {
	served, err := discoverResources(fakeDiscovery{lists: servedLists()})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/v1, Resource=nodes", "/v1, Resource=pods", "batch/v1, Resource=cronjobs", "batch/v1, Resource=jobs"}
	if got := gvrs(served); !equalStrings(got, want) {
		t.Fatalf("served = %v, want %v", got, want)
	}
	for _, r := range served {
		if wantNS := r.gvr.Resource != "nodes"; r.namespaced != wantNS {
			t.Errorf("%v namespaced = %v, want %v", r.gvr, r.namespaced, wantNS)
		}
	}
}

func TestDiscoverResourcesUsesGroupsThatAnswered(t *testing.T) {
	failed := &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{
		{Group: "apps", Version: "v1"}: errors.New("unavailable"),
	}}
	served, err := discoverResources(fakeDiscovery{lists: servedLists()[1:2], err: failed})
	if err == nil {
		t.Fatal("the failed group is not reported")
	}
	want := []string{"batch/v1, Resource=cronjobs", "batch/v1, Resource=jobs"}
	if got := gvrs(served); !equalStrings(got, want) {
		t.Fatalf("served = %v, want %v", got, want)
	}
	if _, err := discoverResources(fakeDiscovery{err: errors.New("connection refused")}); err == nil {
		t.Fatal("a failed discovery is not reported")
	}
}

// TestRunWatchesDiscoveredResources: without a fixed list the collector
// watches what discovery serves, not a list of its own.
func TestRunWatchesDiscoveredResources(t *testing.T) {
	w := newWorld(t)
	w.gc.Discovery = fakeDiscovery{lists: []*metav1.APIResourceList{servedLists()[1]}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.gc.Run(ctx, 1)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	var got []string
	err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		w.gc.mu.Lock()
		defer w.gc.mu.Unlock()
		got = gvrs(w.gc.watching)
		return len(got) > 0, nil
	})
	if err != nil {
		t.Fatalf("the collector watches nothing: %v", err)
	}
	want := []string{"batch/v1, Resource=cronjobs", "batch/v1, Resource=jobs"}
	if !equalStrings(got, want) {
		t.Fatalf("watching %v, want %v", got, want)
	}
}

func TestNewControllerDiscoversThroughTheClient(t *testing.T) {
	w := newWorld(t)
	client := kubefake.NewClientset()
	gc, err := NewController(client, w.client, w.gc.mapper, clocktesting.NewFakeClock(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if gc.Resources != nil || gc.Discovery != client.Discovery() {
		t.Fatalf("resources %v, discovery %v: want the client's discovery and no fixed list", gc.Resources, gc.Discovery)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
