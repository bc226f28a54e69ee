package integration

import (
	"context"
	"fmt"
	"sort"
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
	for i := 0; i < n; i++ {
		cj := everyMinute(fmt.Sprintf("cj-%04d", i))
		if _, err := s.Client.BatchV1().CronJobs("default").Create(ctx, cj, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
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
	return skews, last.Sub(slot), processCPU(b) - cpuAtSlot
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
