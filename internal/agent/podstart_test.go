package agent

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/randfill"
)

func TestPodDirSet(t *testing.T) {
	var s podDirSet
	if !s.mayExist("any") {
		t.Fatal("before a listing, a pod must count as having directories")
	}
	data, run := t.TempDir(), t.TempDir()
	for _, d := range []string{filepath.Join(data, "in-data"), filepath.Join(run, "in-run")} {
		if err := os.Mkdir(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.list(data, run); err != nil {
		t.Fatal(err)
	}
	for uid, want := range map[types.UID]bool{"in-data": true, "in-run": true, "new": false} {
		if got := s.mayExist(uid); got != want {
			t.Errorf("mayExist(%s) = %v, want %v", uid, got, want)
		}
	}
	s.add("new")
	if !s.mayExist("new") {
		t.Error("a pod whose directories are made must count")
	}
	s.remove("new")
	s.remove("in-data")
	if s.mayExist("new") || s.mayExist("in-data") {
		t.Error("a pod whose directories are gone still counts")
	}

	var failed podDirSet
	if err := failed.list(data, filepath.Join(run, "missing")); err == nil {
		t.Fatal("listing a missing directory succeeded")
	}
	failed.remove("new")
	if !failed.mayExist("new") {
		t.Fatal("after a failed listing, every pod must count as having directories")
	}
}

// TestNewPodsDirectoriesAreRecorded: the worker of a pod new to the node
// records its directories before it makes them, and forgets them once it
// has removed them; a restarted agent finds them by listing.
func TestNewPodsDirectoriesAreRecorded(t *testing.T) {
	a := benchAgent(t)
	ctx := context.Background()
	pod := jobPod(1)
	w := newPodWorker(a, pod)
	w.sync(ctx)
	if !a.podDirs.mayExist(pod.UID) {
		t.Fatal("the pod's directories were made but not recorded")
	}
	if _, err := os.Stat(w.dir); err != nil {
		t.Fatal(err)
	}
	var restarted podDirSet
	if err := restarted.list(filepath.Join(a.cfg.DataDir, "pods"), filepath.Join(a.cfg.RunDir, "pods")); err != nil {
		t.Fatal(err)
	}
	if !restarted.mayExist(pod.UID) {
		t.Fatal("a restarted agent does not find the pod's directories")
	}
	w.markGone()
	w.sync(ctx)
	if !w.sync(ctx) {
		t.Fatal("the gone pod's worker did not finish")
	}
	if a.podDirs.mayExist(pod.UID) {
		t.Fatal("the removed pod's directories are still recorded")
	}
	if _, err := os.Stat(w.dir); !os.IsNotExist(err) {
		t.Fatalf("the pod's directory is left: %v", err)
	}
}

// TestWriteStatusLeavesThePodAlone: the pod a status is written for is
// the informer's, shared with every other reader; writing takes a copy.
func TestWriteStatusLeavesThePodAlone(t *testing.T) {
	pod := jobPod(2)
	client := fake.NewClientset(pod.DeepCopy())
	separateStatus(client)
	a := &Agent{client: client, nodeIP: "10.0.0.1"}
	w := newPodWorker(a, pod)
	before := pod.DeepCopy()
	now := time.Now()
	w.load(pod, now)
	w.writeStatus(context.Background(), pod, false, now)
	if w.lastStatus == nil {
		t.Fatal("no status written")
	}
	if !equality.Semantic.DeepEqual(before, pod) {
		t.Fatalf("the pod changed: %+v, was %+v", pod, before)
	}
	got, err := client.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != corev1.PodPending || len(got.Status.ContainerStatuses) != 1 {
		t.Fatalf("written status %+v", got.Status)
	}
}

// TestStatusEqualAgreesWithSemanticEquality: comparing encodings finds
// the same statuses equal as the reflective comparison does, on statuses
// filled at random from small sets of values (so that equal ones come up
// often), with times in different locations and empty lists for missing
// ones, once their times are normalized as writeStatus has them.
func TestStatusEqualAgreesWithSemanticEquality(t *testing.T) {
	utc := false
	f := randfill.NewWithSeed(1).NilChance(0.3).NumElements(0, 2).MaxDepth(10).Funcs(
		func(s *string, c randfill.Continue) { *s = []string{"", "a", "b"}[c.Intn(3)] },
		func(i *int32, c randfill.Continue) { *i = int32(c.Intn(2)) },
		func(i *int64, c randfill.Continue) { *i = int64(c.Intn(2)) },
		func(tm *metav1.Time, c randfill.Continue) {
			*tm = metav1.Unix(int64(c.Intn(2)), int64(c.Intn(2))*500)
			if utc = !utc; utc {
				*tm = metav1.NewTime(tm.UTC())
			}
		},
		func(q *resource.Quantity, c randfill.Continue) {
			*q = *resource.NewQuantity(int64(c.Intn(2)), resource.DecimalSI)
		},
	)
	pick := rand.New(rand.NewSource(2))
	var equal, differ int
	for i := 0; i < 4000; i++ {
		var a, b corev1.PodStatus
		f.Fill(&a)
		if i%2 == 0 {
			// One field of a copy filled anew: often the same again.
			b = *a.DeepCopy()
			field := reflect.ValueOf(&b).Elem().Field(pick.Intn(reflect.TypeOf(b).NumField()))
			f.Fill(field.Addr().Interface())
		} else {
			f.Fill(&b)
		}
		// As writeStatus compares them: to the second.
		normalizeStatusTimes(&a)
		normalizeStatusTimes(&b)
		want := equality.Semantic.DeepEqual(a, b)
		if got := statusEqual(&a, &b); got != want {
			t.Fatalf("statusEqual = %v, semantic equality %v: %s", got, want, cmp.Diff(a, b))
		}
		if want {
			equal++
		} else {
			differ++
		}
	}
	t.Logf("%d equal, %d different", equal, differ)
	if equal < 200 || differ < 200 {
		t.Fatalf("%d equal and %d different pairs: too few of one kind to tell", equal, differ)
	}
}
