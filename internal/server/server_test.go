package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/batchlet/batchlet/internal/server"
	"github.com/batchlet/batchlet/internal/server/servertest"
)

func TestMain(m *testing.M) { os.Exit(servertest.RunTests(m)) }

// TestJobRunsToCompletion is the walking skeleton through client-go: a Job
// becomes a pod on the local node, runs as a process, completes, and its
// log is readable through pods/log.
func TestJobRunsToCompletion(t *testing.T) {
	s := servertest.Start(t)
	ctx := context.Background()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name: "echo", Image: "busybox",
				Command: []string{"sh", "-c", "echo hello from $(POD_NAME)"},
				Env:     []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
			}},
		}}},
	}
	if _, err := s.Client.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "job complete", func() (bool, error) {
		j, err := s.Client.BatchV1().Jobs("default").Get(ctx, "echo", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
				return j.Status.Succeeded == 1, nil
			}
		}
		return false, nil
	})
	pods, err := s.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "job-name=echo"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods: %v %v", pods, err)
	}
	pod := pods.Items[0]
	if pod.Status.Phase != corev1.PodSucceeded || pod.Spec.NodeName != "node-1" {
		t.Fatalf("pod phase %s node %q", pod.Status.Phase, pod.Spec.NodeName)
	}
	logs, err := s.Client.CoreV1().Pods("default").GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(logs)), "hello from "+pod.Name; got != want {
		t.Fatalf("log %q, want %q", got, want)
	}
}

// TestInformerSurvivesRestart checks that a client-go informer keeps an
// exact view of the objects across a server restart on the same data dir
// and address: its watch resumes (or relists) without losing a change.
func TestInformerSurvivesRestart(t *testing.T) {
	addr := servertest.FreeAddr(t)
	cfg := server.Config{DataDir: t.TempDir(), Listen: addr, NodeName: "node-1", DisableAgent: true}
	s := servertest.StartWithConfig(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The informer's client outlives both servers.
	client, err := kubernetes.NewForConfig(s.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace("default"))
	inf := factory.Core().V1().ConfigMaps().Informer()
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("informer did not sync")
	}
	create := func(c kubernetes.Interface, name string) {
		t.Helper()
		if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		create(s.Client, fmt.Sprintf("before-%d", i))
	}
	waitForNames(t, inf, "before-0", "before-1", "before-2", "before-3", "before-4", "kube-root-ca.crt?")

	s.Close()
	s2 := servertest.StartWithConfig(t, cfg)
	for i := 0; i < 3; i++ {
		create(s2.Client, fmt.Sprintf("after-%d", i))
	}
	if err := s2.Client.CoreV1().ConfigMaps("default").Delete(ctx, "before-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForNames(t, inf, "after-0", "after-1", "after-2", "before-1", "before-2", "before-3", "before-4", "kube-root-ca.crt?")
}

// waitForNames waits until the informer holds exactly the named objects
// (a trailing "?" marks a name that may or may not be present).
func waitForNames(t *testing.T, inf cache.SharedIndexInformer, names ...string) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("informer to hold %v", names), func() (bool, error) {
		var have []string
		for _, key := range inf.GetStore().ListKeys() {
			have = append(have, strings.TrimPrefix(key, "default/"))
		}
		sort.Strings(have)
		var want []string
		optional := map[string]bool{}
		for _, n := range names {
			if strings.HasSuffix(n, "?") {
				optional[strings.TrimSuffix(n, "?")] = true
				continue
			}
			want = append(want, n)
		}
		var filtered []string
		for _, h := range have {
			if !optional[h] {
				filtered = append(filtered, h)
			}
		}
		sort.Strings(want)
		return strings.Join(filtered, ",") == strings.Join(want, ","), nil
	})
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		return cond()
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// TestEmbeddedEtcdDBIsTheFileEtcdMaps: the path the server hands to its
// start-up page release is the database the embedded etcd has mapped.
func TestEmbeddedEtcdDBIsTheFileEtcdMaps(t *testing.T) {
	s := servertest.Start(t)
	db := s.EmbeddedEtcdDB()
	if db == "" {
		t.Fatal("no database path for the embedded etcd")
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(maps), " "+db+"\n") {
		t.Fatalf("%s is not mapped by the process", db)
	}
}

// TestEventsExpire: events live EventTTL after their last write, as with
// kube-apiserver's --event-ttl; other objects stay.
func TestEventsExpire(t *testing.T) {
	cfg := server.Config{DataDir: t.TempDir(), Listen: servertest.FreeAddr(t), NodeName: "node-1",
		DisableAgent: true, EventTTL: 2 * time.Second}
	s := servertest.StartWithConfig(t, cfg)
	ctx := context.Background()
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e1", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "p"},
		Reason:         "Tested", Message: "expires", Type: corev1.EventTypeNormal}
	if _, err := s.Client.CoreV1().Events("default").Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "stays"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := s.Client.CoreV1().Events("default").Get(ctx, "e1", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the event outlived its TTL: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := s.Client.CoreV1().ConfigMaps("default").Get(ctx, "stays", metav1.GetOptions{}); err != nil {
		t.Fatalf("the ConfigMap: %v", err)
	}
}

// TestFinishedPodFreesItsNodeForAPendingOne runs two pods on a node with
// room for one: the second is Unschedulable until the first has
// finished. The scheduler watches only pods that have not finished, so
// it learns of the end from the pod leaving its selection.
func TestFinishedPodFreesItsNodeForAPendingOne(t *testing.T) {
	s := servertest.Start(t, func(c *server.Config) { c.MaxPods = 1 })
	ctx := context.Background()
	signal := t.TempDir()
	newPod := func(name, command string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"sh", "-c", command},
					VolumeMounts: []corev1.VolumeMount{{Name: "signal", MountPath: "/signal"}}}},
				Volumes: []corev1.Volume{{Name: "signal", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: signal}}}},
			},
		}
	}
	pods := s.Client.CoreV1().Pods("default")
	// The first runs until the second has been found not to fit.
	if _, err := pods.Create(ctx, newPod("first", "while [ ! -e /signal/go ]; do sleep 0.05; done"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "first pod running", func() (bool, error) {
		p, err := pods.Get(ctx, "first", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})
	if _, err := pods.Create(ctx, newPod("second", "true"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "second pod unschedulable", func() (bool, error) {
		p, err := pods.Get(ctx, "second", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				return p.Spec.NodeName == "", nil
			}
		}
		return false, nil
	})
	if err := os.WriteFile(filepath.Join(signal, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "second pod bound and succeeded", func() (bool, error) {
		p, err := pods.Get(ctx, "second", metav1.GetOptions{})
		return err == nil && p.Spec.NodeName != "" && p.Status.Phase == corev1.PodSucceeded, err
	})
}
