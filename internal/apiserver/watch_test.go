package apiserver

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/batchlet/batchlet/internal/testutil"
)

// nextEvent waits for one event with a deadline.
func nextEvent(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	return testutil.NextEvent(t, w, 5*time.Second)
}

func cm(name string, labels map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func TestWatchSelectorTransitions(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	cms := env.client.CoreV1().ConfigMaps("default")
	if _, err := cms.Create(ctx, cm("a", map[string]string{"sel": "yes"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Create(ctx, cm("b", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{LabelSelector: "sel=yes"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// RV "" → synthetic ADDED for the current state.
	if ev := nextEvent(t, w); ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Name != "a" {
		t.Fatalf("initial event %v %v", ev.Type, ev.Object)
	}
	b, _ := cms.Get(ctx, "b", metav1.GetOptions{})
	b.Labels = map[string]string{"sel": "yes"}
	if _, err := cms.Update(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, w); ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Name != "b" {
		t.Fatalf("entering selection: %v %v", ev.Type, ev.Object)
	}
	a, _ := cms.Get(ctx, "a", metav1.GetOptions{})
	a.Labels = nil
	if _, err := cms.Update(ctx, a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, w); ev.Type != watch.Deleted || ev.Object.(*corev1.ConfigMap).Name != "a" {
		t.Fatalf("leaving selection: %v %v", ev.Type, ev.Object)
	}
	b.Data = map[string]string{"k": "v"}
	b.ResourceVersion = ""
	if _, err := cms.Update(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, w); ev.Type != watch.Modified {
		t.Fatalf("modified: %v", ev.Type)
	}
	if err := cms.Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, w); ev.Type != watch.Deleted || ev.Object.(*corev1.ConfigMap).Name != "b" {
		t.Fatalf("deleted: %v %v", ev.Type, ev.Object)
	}
}

func TestWatchFromResourceVersion(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	cms := env.client.CoreV1().ConfigMaps("default")
	first, _ := cms.Create(ctx, cm("a", nil), metav1.CreateOptions{})
	if _, err := cms.Create(ctx, cm("b", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if ev := nextEvent(t, w); ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Name != "b" {
		t.Fatalf("event after RV: %v %v", ev.Type, ev.Object)
	}
	// All namespaces, protobuf.
	pcfg := *env.config
	pcfg.ContentType = "application/vnd.kubernetes.protobuf"
	pcfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf"
	pb := kubernetes.NewForConfigOrDie(&pcfg)
	pw, err := pb.CoreV1().ConfigMaps("").Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Stop()
	if ev := nextEvent(t, pw); ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Name != "b" {
		t.Fatalf("protobuf event: %v %v", ev.Type, ev.Object)
	}
	if _, err := pb.CoreV1().ConfigMaps("default").Create(ctx, cm("c", nil), metav1.CreateOptions{}); err != nil {
		t.Fatalf("protobuf create: %v", err)
	}
	if ev := nextEvent(t, pw); ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Name != "c" {
		t.Fatalf("protobuf live event: %v %v", ev.Type, ev.Object)
	}
}

func TestWatchExpired(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	cms := env.client.CoreV1().ConfigMaps("default")
	first, _ := cms.Create(ctx, cm("a", nil), metav1.CreateOptions{})
	if _, err := cms.Create(ctx, cm("b", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.store.compact()
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ev := nextEvent(t, w)
	st, ok := ev.Object.(*metav1.Status)
	if ev.Type != watch.Error || !ok || st.Code != http.StatusGone || st.Reason != metav1.StatusReasonExpired {
		t.Fatalf("expired watch: %v %#v", ev.Type, ev.Object)
	}
}

func TestWatchBookmarksAndInitialEvents(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	cms := env.client.CoreV1().ConfigMaps("default")
	if _, err := cms.Create(ctx, cm("a", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{
		AllowWatchBookmarks: true, SendInitialEvents: ptr(true),
		ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if ev := nextEvent(t, w); ev.Type != watch.Added {
		t.Fatalf("initial: %v", ev.Type)
	}
	ev := nextEvent(t, w)
	if ev.Type != watch.Bookmark || ev.Object.(*corev1.ConfigMap).Annotations[metav1.InitialEventsAnnotationKey] != "true" {
		t.Fatalf("end of initial events: %v %#v", ev.Type, ev.Object)
	}
	// A periodic bookmark follows once the interval (50ms in tests) passes
	// on the server's clock.
	env.clock.Step(50 * time.Millisecond)
	ev = nextEvent(t, w)
	if ev.Type != watch.Bookmark || ev.Object.(*corev1.ConfigMap).ResourceVersion == "" {
		t.Fatalf("periodic bookmark: %v %#v", ev.Type, ev.Object)
	}
}

func TestWatchTableAndTimeout(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	jobs := env.client.BatchV1().Jobs("default")
	for _, n := range []string{"a", "b"} {
		if _, err := jobs.Create(ctx, newJob(n), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest("GET", env.srv.URL+"/apis/batch/v1/namespaces/default/jobs?watch=true&timeoutSeconds=1", nil)
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var tables []metav1.Table
	for sc.Scan() {
		var ev struct {
			Type   string
			Object metav1.Table
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("event %s: %v", sc.Text(), err)
		}
		tables = append(tables, ev.Object)
		if len(tables) == 2 {
			// The timeout runs on the server's clock.
			env.clock.Step(time.Second)
		}
	}
	// The stream ends by itself after timeoutSeconds.
	if len(tables) != 2 {
		t.Fatalf("got %d events", len(tables))
	}
	if len(tables[0].ColumnDefinitions) != 3 || len(tables[1].ColumnDefinitions) != 0 {
		t.Errorf("column definitions must be in the first event only: %d, %d", len(tables[0].ColumnDefinitions), len(tables[1].ColumnDefinitions))
	}
	if len(tables[1].Rows) != 1 || tables[1].Rows[0].Cells[0] != "b" {
		t.Errorf("second row: %+v", tables[1].Rows)
	}
}

// TestLeavingObjectLeavesTheCachedOneAlone checks the object of a DELETED
// event for an object leaving a selection carries the revision it left
// at, while the watch cache's previous state keeps its own.
func TestLeavingObjectLeavesTheCachedOneAlone(t *testing.T) {
	prev := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", ResourceVersion: "5", Labels: map[string]string{"sel": "yes"}}}
	gone, ok := withResourceVersion(prev, "9").(*corev1.Pod)
	if !ok || gone == prev {
		t.Fatalf("got %T %p, want a copy of %p", gone, gone, prev)
	}
	if gone.ResourceVersion != "9" || gone.Labels["sel"] != "yes" || gone.Name != "p" {
		t.Errorf("leaving object %+v", gone.ObjectMeta)
	}
	if prev.ResourceVersion != "5" {
		t.Errorf("cached object's resourceVersion became %q", prev.ResourceVersion)
	}
}
