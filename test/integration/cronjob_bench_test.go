package integration

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchlet/batchlet/internal/server/servertest"
)

// BenchmarkScheduleSkew measures, against a real in-process server (its own
// CronJob controller) and the real clock, the delay from a slot to each Job's creation as seen by a
// watcher, for one CronJob and for 1,000 due in the same minute. Each
// iteration waits for a minute boundary; run with -benchtime=1x.
//
//	go test ./test/integration -run '^$' -bench ScheduleSkew -benchtime=1x
func BenchmarkScheduleSkew(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("cronjobs=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				skews, all, cpu := measureSkew(b, n)
				sort.Slice(skews, func(a, c int) bool { return skews[a] < skews[c] })
				b.ReportMetric(ms(skews[len(skews)/2]), "p50-ms")
				b.ReportMetric(ms(skews[(len(skews)*99)/100]), "p99-ms")
				b.ReportMetric(ms(skews[len(skews)-1]), "max-ms")
				b.ReportMetric(ms(all), "all-created-ms")
				// CPU of the whole process (server and watcher) per Job: on a
				// shared machine it varies far less than the latencies.
				b.ReportMetric(ms(cpu)/float64(n), "cpu-ms/job")
			}
		})
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// measureSkew creates n CronJobs, waits for the next minute and returns
// each Job's skew, the time until the last one was seen and the CPU the
// process used from the minute until then.
func measureSkew(b *testing.B, n int) ([]time.Duration, time.Duration, time.Duration) {
	b.Helper()
	s := servertest.Start(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Watch Jobs from the start to time their arrival.
	w, err := s.Client.BatchV1().Jobs("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	skewAvoidMinuteEdge(n)
	for i := 0; i < n; i++ {
		cj := everyMinute(fmt.Sprintf("cj-%04d", i))
		if _, err := s.Client.BatchV1().CronJobs("default").Create(ctx, cj, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	stopProfile := skewStartProfile(b)
	defer stopProfile()
	b.ResetTimer()
	var cpuAtSlot time.Duration
	var skews []time.Duration
	var last time.Time
	var slot time.Time
	deadline := time.After(3 * time.Minute)
	for len(skews) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				b.Fatal("watch closed")
			}
			job, isJob := ev.Object.(*batchv1.Job)
			if !isJob || ev.Type != "ADDED" {
				continue
			}
			now := time.Now()
			at, err := time.Parse(time.RFC3339, job.Annotations[batchv1.CronJobScheduledTimestampAnnotation])
			if err != nil {
				b.Fatalf("job %s: %v", job.Name, err)
			}
			if len(skews) == 0 {
				// The first Job marks the minute; what ran before it was
				// setup and idle time.
				cpuAtSlot = processCPU(b)
			}
			slot, last = at, now
			skews = append(skews, now.Sub(at))
		case <-deadline:
			b.Fatalf("only %d of %d jobs created", len(skews), n)
		}
	}
	b.StopTimer()
	stopProfile()
	return skews, last.Sub(slot), processCPU(b) - cpuAtSlot
}

// skewAvoidMinuteEdge waits for the next minute when creating n CronJobs
// (a few milliseconds each) could run past it: CronJobs created after the
// minute would be due a minute later than the others.
func skewAvoidMinuteEdge(n int) {
	margin := 5*time.Second + time.Duration(n)*5*time.Millisecond
	now := time.Now()
	if next := now.Truncate(time.Minute).Add(time.Minute); next.Sub(now) < margin {
		time.Sleep(next.Sub(now) + 100*time.Millisecond)
	}
}

// skewStartProfile writes a CPU profile of the part that is measured (the
// minute and the creations) to $BATCHLET_SKEW_CPUPROFILE, when set; the
// returned function stops it and may be called more than once.
func skewStartProfile(b *testing.B) func() {
	path := os.Getenv("BATCHLET_SKEW_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatalf("cpu profile: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		b.Fatalf("cpu profile: %v", err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				b.Errorf("cpu profile: %v", err)
			}
		})
	}
}

// processCPU is the user and system CPU time the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// everyMinute is a CronJob due every minute whose Jobs stay suspended: the
// pods are not what is measured.
func everyMinute(name string) *batchv1.CronJob {
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: batchv1.CronJobSpec{
			Schedule: "*/1 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				Suspend: ptr.To(true),
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyOnFailure,
					Containers:    []corev1.Container{{Name: "hello", Image: "busybox"}},
				}},
			}},
		},
	}
}
